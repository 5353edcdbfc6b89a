/**
 * The reading side of delayed redelivery: a vertex's partition readers bring due messages back
 * (the due check runs before each read, throttled by the store; on a memory store only while
 * something is parked), and a partition does not end while one of its messages may still come back.
 *
 *   read(p) ──▶ release(p): memory: due messages handed out here │ redis: moved into the stream
 *          └──▶ buffer read (a memory store's due timer cuts a waiting read short; the cut signal
 *               lasts from read to read until it is used)
 *               end of stream? kept back while this process holds unacked entries of p (they may
 *               still be parked) or the memory store holds parked ones (Redis says so itself: its
 *               end check counts the delayed set, in the same script)
 *   ack(p) ──▶ released offsets (memory) are not the buffer's: acked here, the rest by the buffer
 *          └──▶ watermark held back (not published) while a message of p is parked, being released,
 *               or released and not yet acked: an epoch sealed before the release carries a watermark
 *               past the message, which reaches the next vertex only with a later epoch (I7)
 */
import type { AckInput, ReadBatchInput, ReadBatchOutput } from "@weir/actors";
import type { VertexCounts } from "../observability/vertex-counters.js";
import type { VertexIO } from "../pipeline/vertex-machine.js";
import { isReleasedOffset, type DelayedStore } from "./delayed-store.js";

const NONE: readonly string[] = Object.freeze([]);

/** Longest pause of a reader whose partition's end is kept back, before it reads again. */
const HELD_END_PAUSE_MS = 100;

export function withDelayedRelease(io: VertexIO, store: DelayedStore, counts: VertexCounts): VertexIO {
  /** Entries read and not yet acked, per partition. */
  const unacked = new Map<number, number>();
  const add = (partition: number, n: number) => unacked.set(partition, (unacked.get(partition) ?? 0) + n);
  /**
   * Partitions that ever handed out a released entry. Only their acks can hold released offsets, so
   * only theirs are scanned (issue 12: a per-offset check and a filtered copy on every ack of every
   * vertex, parked messages or not). Never cleared: an ack may be retried after its released part
   * was counted, and its released offsets must never reach the buffer.
   */
  const releasing = new Set<number>();
  /**
   * Per partition, released offsets handed to the reader and not acked yet (a set: a retried ack
   * removes nothing twice), and how many reads are inside `store.release` with something parked.
   * The memory store lets a message go (no longer `waiting`) before the read resumes: an ack in
   * between must still see it.
   */
  const returning = new Map<number, Set<string>>();
  const releasesUnderWay = new Map<number, number>();
  const bump = (partition: number, by: number) => releasesUnderWay.set(partition, (releasesUnderWay.get(partition) ?? 0) + by);

  /**
   * Whether a read must ask the store for due messages first. A store that is not durable (memory)
   * holds only what this process parked, so with nothing parked nothing can be due: the read skips
   * the release and its promises (issue 12: every read of every vertex, parked messages or not). A
   * durable store (Redis) may hold messages parked before a restart or by another worker: always asked.
   */
  const mayRelease = (partition: number) => store.durable || store.waiting(partition) > 0;

  /** Brings due messages back, counting them as returning to the partition from the store's let-go to their ack. */
  const release = async (partition: number, max: number) => {
    // Nothing parked by this process (a durable store's hot path): nothing to count.
    if (store.waiting(partition) === 0) return store.release(partition, max);
    bump(partition, 1);
    try {
      const released = await store.release(partition, max);
      if (released.entries.length > 0) {
        const offsets = returning.get(partition) ?? new Set<string>();
        for (const entry of released.entries) offsets.add(entry.offset);
        returning.set(partition, offsets);
      }
      return released;
    } finally {
      bump(partition, -1);
    }
  };

  /**
   * Whether acking `released` (this ack's released offsets) leaves a message of `partition` that
   * the epoch's watermark would overtake: parked, being released, or released into a later epoch.
   */
  const holds = (partition: number, released: readonly string[]): boolean => {
    const offsets = returning.get(partition);
    if (offsets !== undefined) for (const offset of released) offsets.delete(offset);
    return store.waiting(partition) > 0 || (releasesUnderWay.get(partition) ?? 0) > 0 || (offsets?.size ?? 0) > 0;
  };

  /**
   * Per partition, the signal its reads wait on: aborted when a message of the partition comes due
   * or the reader stops. Kept from read to read until one of those uses it — not an
   * AbortController, two listeners and a due subscription per read (issue 12: ~3 % of a memory
   * pipeline's CPU, on every vertex, parked messages or not).
   */
  const cuts = new Map<number, { readonly reader: AbortSignal; readonly cut: AbortController; readonly stop: () => void }>();
  const cutSignal = (partition: number, reader: AbortSignal): AbortSignal => {
    const current = cuts.get(partition);
    if (current !== undefined && current.reader === reader && !current.cut.signal.aborted) return current.cut.signal;
    current?.stop();
    const cut = new AbortController();
    let unsubscribe: () => void = () => undefined;
    const stop = () => {
      unsubscribe();
      reader.removeEventListener("abort", stop);
      cut.abort();
    };
    unsubscribe = store.onDue(partition, stop);
    reader.addEventListener("abort", stop, { once: true });
    if (reader.aborted) stop();
    cuts.set(partition, { reader, cut, stop });
    return cut.signal;
  };

  const read = async (input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput> => {
    const { partition } = input;
    if (!input.fromPending && !signal.aborted && mayRelease(partition)) {
      const released = await release(partition, input.max);
      if (released.entries.length > 0) {
        releasing.add(partition);
        add(partition, released.entries.length);
        counts.read += released.entries.length;
        return { entries: released.entries, endOfStream: false };
      }
    }
    const batch = await io.read(input, cutSignal(partition, signal));
    add(partition, batch.entries.length);
    if (!batch.endOfStream) return batch;
    if ((unacked.get(partition) ?? 0) === 0 && store.waiting(partition) === 0) return batch;
    // Not the end yet: a message of this partition may still be parked, or is. Its watermark is
    // held back too (issue #13): the end's watermark (END_OF_TIME) would make the parked ones late.
    if (batch.entries.length === 0) await store.waitForDue(partition, Math.min(input.timeoutMs, HELD_END_PAUSE_MS), signal);
    // Spread, not rebuilt: the batch's other fields (its watermark, issue #13) pass through.
    return { ...batch, endOfStream: false };
  };

  const ack = async (input: AckInput): Promise<void> => {
    const released = releasing.has(input.partition) ? input.offsets.filter(isReleasedOffset) : NONE;
    const acked = input.watermark !== undefined && holds(input.partition, released) ? withoutWatermark(input) : input;
    if (released.length === 0) await io.ack(acked);
    else {
      const rest = input.offsets.filter((offset) => !isReleasedOffset(offset));
      // Acked with no buffer offset left too when it has a watermark to publish: no later epoch may
      // carry it (the reader acks an empty epoch only for a newer one).
      if (rest.length > 0 || acked.watermark !== undefined) await io.ack({ ...acked, offsets: rest });
      counts.acked += released.length;
    }
    add(input.partition, -input.offsets.length);
  };

  return { ...io, read, ack };
}

/** The ack without its watermark: the offsets commit, the partition's last mark stays (kept alive). */
function withoutWatermark({ watermark: _held, ...ack }: AckInput): AckInput {
  return ack;
}
