/**
 * Where a vertex's parked messages wait for their delay (docs/flow-control.md, "Delayed
 * redelivery"). One store per vertex input, two implementations:
 *
 *   memory: a timer per partition; due messages are handed to the partition's reader directly
 *   redis:  per partition, a sorted set of due times and a hash of the parked messages, under the
 *           partition's hash tag; the vertex's readers move due messages back into the partition's
 *           stream, one Lua script per move (delayed-redis-scripts.ts)
 *
 *   sink / udf ──retryLater──▶ park(p) ──▶ [due set] ──due──▶ release(p) ──▶ reader of p ──▶ …
 */
import type { Message, ReadEntry } from "@weir/actors";

/** One message to park: the copy to bring back (its state headers set), and when. */
export interface ParkItem {
  /** The identity of this park (delayed-state.ts parkIdentity): parking it twice parks it once. */
  readonly identity: string;
  readonly message: Message;
  readonly delayMs: number;
}

/** What one release did. */
export interface Released {
  /** Due messages to hand to the reader now (memory); their offsets are {@link isReleasedOffset}. */
  readonly entries: readonly ReadEntry[];
  /** Due messages moved back into the partition's stream, to be read like any entry (redis). */
  readonly moved: number;
  /** Due messages not moved because their identity was released already (a park repeated after a crash). */
  readonly duplicates: number;
}

export interface DelayedStore {
  /** True when parks outlive the process (Redis). */
  readonly durable: boolean;
  /** Parks messages; resolves once they are stored (durably, on Redis). */
  park(partition: number, items: readonly ParkItem[]): Promise<void>;
  /** For each identity, whether it is parked or was released already (always false in memory). */
  parkedAlready(partition: number, identities: readonly string[]): Promise<readonly boolean[]>;
  /** Brings due messages back (at most `max`); cheap when nothing is due (checks are throttled). */
  release(partition: number, max: number): Promise<Released>;
  /** Messages this process knows to be waiting in partition `partition` (memory: all of them). */
  waiting(partition: number): number;
  /** Resolves when a message of `partition` may be due, after `ms` at most, or on abort. */
  waitForDue(partition: number, ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `listener` whenever a message of `partition` becomes due; returns the unsubscribe. */
  onDue(partition: number, listener: () => void): () => void;
  close(): Promise<void>;
}

/** Offsets of entries a memory store hands out; the buffer never saw them, so they are never acked there. */
export function isReleasedOffset(offset: string): boolean {
  return offset.startsWith(RELEASED_OFFSET_PREFIX);
}
export const RELEASED_OFFSET_PREFIX = "delayed-";
