/**
 * The Redis buffer's {@link DelayedStore}. Per partition of the vertex's input, under the
 * partition's hash tag (buffer/redis/keys.ts): `:delayed` (identity → due time, on the server's
 * clock, so hosts' clocks never decide), `:delayed-messages` (identity → the parked message) and
 * `:delayed-released` (identities moved back within the dedup window).
 *
 * Who moves due messages back: every reader of the vertex, in any worker, before its reads
 * (`release`), at most every {@link IDLE_CHECK_MS} while nothing is known to be waiting and
 * sooner when something is due sooner. No single worker owns the job, so a dead worker's parked
 * messages are moved by the living. A move is one script (ZREM + HDEL + XADD): the message is
 * parked or in the stream, never both, never neither.
 *
 * Crash safety (a SIGKILL at any point):
 * - the park is stored before the original entry is acked (the sink wrapper awaits it before it
 *   answers), so a death before the ack leaves the original pending: another worker claims it;
 * - that worker finds the park identity already parked or released (`parkedAlready`) and answers
 *   the delivery done without processing it again, so the message is not delivered twice;
 * - a park repeated anyway (its first copy already released) is refused by HSETNX while parked, and
 *   dropped at release while its identity is in `:delayed-released` (the dedup window).
 */
import type { ReadEntry } from "@weir/actors";
import { encodeMessage } from "../buffer/redis/encoding.js";
import { partitionKeys, type PartitionKeys } from "../buffer/redis/keys.js";
import type { RedisConnection } from "../buffer/redis/redis-connection.js";
import { monotonicNow } from "../time/monotonic-clock.js";
import { runDelayedScript } from "./delayed-redis-scripts.js";
import type { DelayedStore, ParkItem, Released } from "./delayed-store.js";

/** How often a reader looks for due messages while none is known to be waiting. */
export const IDLE_CHECK_MS = 250;
/** The soonest a reader looks again, however soon the next message is due. */
const MIN_CHECK_MS = 5;

export interface RedisDelayedStoreOptions {
  readonly connection: RedisConnection;
  readonly keyPrefix: string;
  /** The input buffer's name (`<pipeline>.<vertex>`), also its consumer group. */
  readonly bufferName: string;
  readonly partitions: number;
  /** The buffer's dedup window (`buffer.dedupWindow`); how long a released identity is remembered. */
  readonly dedupWindowMs: number;
  /** Entries a partition's stream may hold (0: unlimited): a release never overfills it. */
  readonly capacity: number;
}

interface PartitionState {
  readonly keys: PartitionKeys;
  /** Monotonic time of the next release check. */
  nextCheckAt: number;
  /** Parked messages the last check saw. */
  waiting: number;
}

const NO_ENTRIES = Object.freeze([]) as readonly ReadEntry[];
const NOTHING: Released = Object.freeze({ entries: NO_ENTRIES, moved: 0, duplicates: 0 });
const DEFAULT_WINDOW_MS = 600_000;

export function createRedisDelayedStore(options: RedisDelayedStoreOptions): DelayedStore {
  const { connection, bufferName } = options;
  const windowMs = options.dedupWindowMs > 0 ? options.dedupWindowMs : DEFAULT_WINDOW_MS;
  const states: PartitionState[] = Array.from({ length: options.partitions }, (_, p) => ({
    keys: partitionKeys(options.keyPrefix, bufferName, p),
    nextCheckAt: 0,
    waiting: 0,
  }));

  return {
    durable: true,
    async park(partition, items: readonly ParkItem[]) {
      if (items.length === 0) return;
      const state = states[partition]!;
      const args: Array<string | number | Buffer> = [];
      for (const item of items) args.push(item.identity, Math.round(item.delayMs), encodeMessage(item.message));
      await runDelayedScript(connection.client, "park", [state.keys.delayed, state.keys.delayedMessages], args);
      state.waiting += items.length;
      const soonest = Math.min(...items.map((item) => item.delayMs));
      state.nextCheckAt = Math.min(state.nextCheckAt, monotonicNow() + Math.max(MIN_CHECK_MS, soonest));
    },
    async parkedAlready(partition, identities) {
      if (identities.length === 0) return [];
      const { keys } = states[partition]!;
      const reply = (await runDelayedScript(connection.client, "parked", [keys.delayedMessages, keys.delayedReleased], identities)) as number[];
      // An empty reply: nothing is parked or released on the partition (the script's fast path).
      return reply.length === 0 ? identities.map(() => false) : reply.map((found) => found === 1);
    },
    async release(partition, max) {
      const state = states[partition]!;
      const now = monotonicNow();
      if (now < state.nextCheckAt) return NOTHING;
      const { keys } = state;
      const reply = (await runDelayedScript(
        connection.client,
        "release",
        [keys.stream, keys.delayed, keys.delayedMessages, keys.delayedReleased, keys.length],
        [bufferName, windowMs, max, options.capacity],
      )) as [number, number, number, number];
      const [moved, duplicates, waiting, untilNext] = reply;
      state.waiting = waiting;
      const wait = untilNext < 0 ? IDLE_CHECK_MS : Math.min(IDLE_CHECK_MS, Math.max(MIN_CHECK_MS, untilNext));
      // Moved some and maybe more are due (a full page): look again on the next read.
      state.nextCheckAt = moved + duplicates >= max ? now : monotonicNow() + wait;
      return moved === 0 && duplicates === 0 ? NOTHING : { entries: NO_ENTRIES, moved, duplicates };
    },
    waiting(partition) {
      return states[partition]!.waiting;
    },
    waitForDue(partition, ms, signal) {
      const until = Math.max(MIN_CHECK_MS, Math.min(ms, states[partition]!.nextCheckAt - monotonicNow()));
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, until);
        signal.addEventListener("abort", done, { once: true });
      });
    },
    onDue() {
      // Released messages are stream entries: a waiting XREADGROUP sees them like any write.
      return () => undefined;
    },
    async close() {
      // The connection belongs to the buffers' context, closed with it.
    },
  };
}
