/**
 * The cap a suspected dead processor's entries put on a living one's watermark (issue #13, the
 * "dead processor" case of test/watermark-stalls.redis.test.ts).
 *
 * Workers m1, m2 of vertex U share U's input partition p (one consumer group) and both publish
 * marks for writer `U/p`. m2 reads past the entries E that m1 holds, so m2's watermark is later
 * than E's event times; while m1 lives, m1's own marks hold the readers downstream back. Once
 * m1 is gone its marks age out after `processorTimeoutMs` (= claimIdle), and E — claimed by m2
 * only after claimIdle of idleness — would reach downstream behind a watermark that passed them.
 * So a living worker publishes for `U/p`
 *
 * ```
 *   min(input watermark, min eventTime of the suspects of p)
 *   suspect = an entry of p pending for ANOTHER consumer, idle ≥ claimIdle / 2   (found by XPENDING IDLE)
 *             … and it stays one, whoever holds it later, until it is acknowledged (gone from the stream)
 * ```
 *
 * claimIdle / 2 is before the readers drop m1 (claimIdle after its last mark), and before m2 can
 * claim E (claimIdle after their delivery): the cap is in m2's marks before m1's stop counting.
 * A suspect stays one after m2 claims it, until acked: its results are then downstream, before
 * any later mark. Entries of a slow but living consumer cap too — only delaying the watermark.
 *
 *   refresh(p) ──▶ XPENDING IDLE claimIdle/2 (≤ max) ──▶ other consumers' offsets ∪ known suspects
 *                        ──▶ entriesAt (XRANGE, pipelined): still there → suspect, its eventTime
 *
 * Cheap: one XPENDING per partition per refresh; the XRANGEs only while there are suspects.
 */
import type { ReadEntry } from "@weir/actors";
import type { PartitionedBuffer, PendingDeliveriesQuery, PendingDelivery } from "../buffer/index.js";
import type { Logger } from "../observability/logger.js";

/** What the cap needs of a vertex's input buffer: a durable one (Redis) has it; memory has no other processes. */
export interface SuspectInput {
  readonly name: string;
  pendingDeliveries(partition: number, query: PendingDeliveriesQuery): Promise<readonly PendingDelivery[]>;
  entriesAt(partition: number, offsets: readonly string[]): Promise<readonly ReadEntry[]>;
}

/** The buffer as a {@link SuspectInput} when it can list other consumers' entries; undefined otherwise (memory, sources). */
export function suspectInputOf(buffer: PartitionedBuffer | undefined): SuspectInput | undefined {
  if (buffer?.pendingDeliveries === undefined || buffer.entriesAt === undefined) return undefined;
  const { pendingDeliveries, entriesAt } = buffer;
  return { name: buffer.name, pendingDeliveries: pendingDeliveries.bind(buffer), entriesAt: entriesAt.bind(buffer) };
}

export interface PendingCapOptions {
  readonly input: SuspectInput;
  /** This process's consumer name: its own pending entries are not suspects. */
  readonly consumer: string;
  /** The input's claimIdle (ms): an entry idle for half of it is suspected. */
  readonly claimIdleMs: number;
  /** Most suspects listed per partition and refresh (default 1000): the earliest, XPENDING is oldest first. */
  readonly max?: number;
  readonly logger: Logger;
}

export interface PendingCap {
  /** The cap of input partition `partition` found by the last refresh; undefined: none. */
  cap(partition: number): number | undefined;
  /** Re-reads the suspects of `partition`; true when its cap changed. Errors are logged, the old cap kept. */
  refresh(partition: number): Promise<boolean>;
}

const DEFAULT_MAX = 1_000;

/**
 * @example
 * ```ts
 * const caps = createPendingCap({ input: suspectInputOf(buffer)!, consumer: "w2", claimIdleMs: 30_000, logger });
 * if (await caps.refresh(0)) await publisher.keepAlive(); // the marks of "<vertex>/0" carry min(watermark, caps.cap(0))
 * ```
 */
export function createPendingCap(options: PendingCapOptions): PendingCap {
  const max = options.max ?? DEFAULT_MAX;
  /** Per partition: suspect offset → its event time. */
  const suspects = new Map<number, Map<string, number>>();
  const caps = new Map<number, number>();

  const findSuspects = async (partition: number): Promise<Map<string, number>> => {
    const known = suspects.get(partition) ?? new Map<string, number>();
    const pending = await options.input.pendingDeliveries(partition, { max, minIdleMs: options.claimIdleMs / 2 });
    const offsets = new Set(known.keys());
    for (const entry of pending) if (entry.consumer !== options.consumer) offsets.add(entry.offset);
    if (offsets.size === 0) return known;
    // Still in the stream = not acknowledged yet (acks delete): still a suspect, whoever holds it now.
    const entries = await options.input.entriesAt(partition, [...offsets].slice(0, max));
    return new Map(entries.map((entry) => [entry.offset, entry.message.eventTime]));
  };

  return {
    cap: (partition) => caps.get(partition),
    async refresh(partition) {
      let found: Map<string, number>;
      try {
        found = await findSuspects(partition);
      } catch (error) {
        options.logger.warn("could not look for a dead processor's pending entries: the watermark cap is kept as it was", {
          buffer: options.input.name,
          partition,
          error: error instanceof Error ? error.message : String(error),
        });
        return false;
      }
      suspects.set(partition, found);
      let low: number | undefined;
      for (const eventTime of found.values()) if (low === undefined || eventTime < low) low = eventTime;
      const before = caps.get(partition);
      if (low === undefined) caps.delete(partition);
      else caps.set(partition, low);
      if (before === undefined && low !== undefined) {
        options.logger.info("entries of a processor idle for claimIdle/2 hold this worker's watermark back until they are acknowledged", {
          buffer: options.input.name,
          partition,
          suspects: found.size,
          cap: low,
        });
      }
      return low !== before;
    },
  };
}
