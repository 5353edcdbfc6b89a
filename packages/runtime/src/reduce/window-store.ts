/**
 * Where a reduce vertex's window state lives, per partition of its input (issue #13, contract §3).
 *
 * One `commit` is ONE atomic step: it acknowledges the epoch's input offsets, applies the window
 * state change and records the watermark, or does nothing at all. So after a crash the state
 * matches exactly the input that is no longer pending: every message counted once, whether it was
 * acked (its effect is in the state) or is redelivered (its effect is not).
 *
 * A commit applies only if every offset is still pending for the store's consumer; otherwise
 * (another consumer claimed one, or it was acked already) nothing changes and it returns 0. A
 * zombie worker — one whose entries were claimed while it stalled — must not add its epoch to
 * state the new owner will also add it to: that would count the claimed messages twice.
 *
 * Implementations: memory-window-store.ts (in-process, through the MemoryBuffer's ack) and
 * redis-window-store.ts (one Lua script per commit, keys under the partition's hash tag).
 */
import type { WindowStateChange } from "./window-state.js";

/** A partition's stored window state and the watermark committed with it. */
export interface StoredWindows {
  /** Field (a window's id) → its JSON, as the window keeper wrote it. */
  readonly windows: ReadonlyMap<string, string>;
  /** The last committed watermark (ms); undefined until one was committed. */
  readonly watermark: number | undefined;
}

export interface WindowStore {
  /** The partition's window state and watermark as last committed (empty and undefined at first). */
  load(partition: number): Promise<StoredWindows>;
  /**
   * Acks `offsets` of the input partition, applies `change` and records `watermark` (left as it
   * is when undefined), in one atomic step. Returns how many offsets were acked: every distinct
   * one when the commit applied; 0 when one of them was not pending for this store's consumer,
   * and then nothing changed (see the module doc). With no offsets it always applies.
   *
   * @throws {BufferError} when the buffer refuses (closed, unreachable, bad offset, data lost).
   */
  commit(partition: number, offsets: readonly string[], change: WindowStateChange, watermark: number | undefined): Promise<number>;
  /** Deletes windows (their fields) once their results were written downstream. Idempotent. */
  forget(partition: number, fields: readonly string[]): Promise<void>;
  /** Releases what the store holds (never the buffer it acks through). Idempotent. */
  close(): Promise<void>;
}
