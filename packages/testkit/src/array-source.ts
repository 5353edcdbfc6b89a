/**
 * Partition I/O over plain arrays for actor-level tests: a reader's `readerIo` actor (and the
 * `read`/`ack` functions behind it) that reads each partition's messages in order and records
 * acks in a `DeliveryLog`.
 * A partition whose array is empty blocks for the read timeout (on the test clock), like an
 * idle buffer; once every message has been read, it reports end of stream.
 */
import { fromPartitionIo, type AckInput, type Message, type ReadBatchInput, type ReadBatchOutput, type ReaderIoLogic } from "@weir/actors";
import { realClock, type TestClock } from "./clock.js";
import { DeliveryLog } from "./delivery-log.js";

export interface ArraySourceOptions {
  readonly clock?: TestClock;
  readonly log?: DeliveryLog;
  /** Partitions listed here never end (an idle, unbounded input). */
  readonly openPartitions?: readonly number[];
}

export interface ArraySource {
  /** The reader's I/O actor: provide it as `partitionReaderMachine.provide({ actors: { readerIo } })`. */
  readonly readerIo: ReaderIoLogic;
  /** One read, as `readerIo` does it. */
  readonly read: (input: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;
  /** One ack, as `readerIo` does it. */
  readonly ack: (input: AckInput) => Promise<void>;
  readonly log: DeliveryLog;
  /** Adds messages to a partition while the test runs. */
  push(partition: number, messages: readonly Message[]): void;
  /** Ends a partition listed in `openPartitions`. */
  end(partition: number): void;
  readonly readCount: () => number;
  /** The messages of a partition not read yet: still in the source, as un-acked entries stay in a buffer. */
  unread(partition: number): readonly Message[];
}

export function createArraySource(partitions: readonly (readonly Message[])[], options: ArraySourceOptions = {}): ArraySource {
  const clock = options.clock ?? realClock;
  const log = options.log ?? new DeliveryLog();
  const queues = partitions.map((messages) => [...messages]);
  const open = new Set(options.openPartitions ?? []);
  const byOffset = new Map<string, string>();
  let nextOffset = 0;
  let reads = 0;

  const read = async (input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput> => {
    const queue = queues[input.partition] ?? [];
    if (queue.length === 0 && !input.fromPending) {
      if (!open.has(input.partition)) return { entries: [], endOfStream: true };
      // The reader's signal outlives this read: the listener goes when the wait ends either way.
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clock.clearTimeout(timer);
          resolve();
        };
        const timer = clock.setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, input.timeoutMs);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (input.fromPending) return { entries: [], endOfStream: false };
    const taken = queue.splice(0, input.max);
    reads += taken.length;
    const entries = taken.map((message) => {
      const offset = String(nextOffset++);
      byOffset.set(`${input.partition}:${offset}`, message.id);
      return { offset, message };
    });
    return { entries, endOfStream: queue.length === 0 && !open.has(input.partition) && entries.length === 0 };
  };

  const ack = async (input: AckInput): Promise<void> => {
    for (const offset of input.offsets) {
      // Offsets stay known after an ack, so a second ack shows up in the log as one.
      const id = byOffset.get(`${input.partition}:${offset}`);
      if (id === undefined) throw new Error(`ack of unknown offset ${offset} on partition ${input.partition}`);
      log.record({ kind: "ack", id, partition: input.partition, epoch: input.epoch });
    }
  };

  return {
    readerIo: fromPartitionIo({ read, ack }),
    read,
    ack,
    log,
    push: (partition, messages) => queues[partition]!.push(...messages),
    end: (partition) => open.delete(partition),
    readCount: () => reads,
    unread: (partition) => [...(queues[partition] ?? [])],
  };
}

/** Test messages: `count` per partition, ids `p<partition>-<n>`. */
export function makeMessages(partitions: number, count: number | readonly number[]): Message[][] {
  const encoder = new TextEncoder();
  return Array.from({ length: partitions }, (_, p) => {
    const n = typeof count === "number" ? count : (count[p] ?? 0);
    return Array.from({ length: n }, (_, i) => ({
      id: `p${p}-${i}`,
      keys: [],
      value: encoder.encode(`message ${i} of partition ${p}`),
      eventTime: 0,
      headers: {},
    }));
  });
}
