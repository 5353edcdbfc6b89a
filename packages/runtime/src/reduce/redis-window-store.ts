/**
 * The {@link WindowStore} of a pipeline on the Redis buffer. Per partition of the reduce vertex's
 * input, beside its stream and under its hash tag (buffer/redis/keys.ts):
 *
 * ```
 *   commit(p, offsets, change, wm) ──▶ script window-commit: :windows-owner this consumer (or unset)? XPENDING per id (this consumer?)
 *                                        → XACK + XDEL (the buffer's ack) + HSET/HDEL :windows + SET :watermark, :windows-last-commit
 *                                        (the last commit sent again after a lost reply: N, nothing changed)
 *   load(p)   ──▶ MULTI HGETALL :windows, GET :watermark, SET :windows-owner (this consumer)
 *   forget(p) ──▶ script window-forget: :windows-owner this consumer (or unset)? → HDEL :windows
 * ```
 *
 * The commit goes through the buffer (`ackWithin`), so the offsets are validated as an ack's, the
 * buffer forgets them as handed out, and errors are the buffer's. With Redis on `appendonly yes`
 * and `appendfsync always`, a committed epoch survives a Redis restart with its state.
 *
 * @example
 * ```ts
 * const store = createRedisWindowStore({ buffer, consumer: "worker-1" });
 * const { windows, watermark } = await store.load(0);
 * ```
 */
import type { RedisStreamBuffer } from "../buffer/redis/redis-stream-buffer.js";
import { runWindowCommit } from "./window-commit-script.js";
import { runWindowForget } from "./window-forget-script.js";
import type { StoredWindows, WindowStore } from "./window-store.js";

export interface RedisWindowStoreOptions {
  /** The reduce vertex's input buffer, whose offsets a commit acks. */
  readonly buffer: RedisStreamBuffer;
  /** The consumer that reads the input (the reader's consumer name). */
  readonly consumer: string;
}

/** Fields per HDEL of `forget`. */
const FORGET_CHUNK = 500;

export function createRedisWindowStore(options: RedisWindowStoreOptions): WindowStore {
  const { buffer, consumer } = options;
  return {
    async load(partition): Promise<StoredWindows> {
      return buffer.withPartition(partition, "load windows", async (client, keys) => {
        // Loading makes this consumer the state's owner: a worker it took over can no longer commit.
        const replies = (await client.multi().hgetall(keys.windows).get(keys.watermark).set(keys.windowsOwner, consumer).exec()) ?? [];
        for (const [error] of replies) if (error !== null) throw error;
        const fields = (replies[0]?.[1] ?? {}) as Record<string, string>;
        const watermark = replies[1]?.[1] as string | null | undefined;
        return { windows: new Map(Object.entries(fields)), watermark: watermark == null ? undefined : Number(watermark) };
      });
    },
    async commit(partition, offsets, change, watermark) {
      return buffer.ackWithin(partition, offsets, (client, keys, group, distinct) => {
        const args: string[] = [group, consumer, watermark === undefined ? "" : String(watermark), String(distinct.length), ...distinct, String(change.set.size)];
        for (const [field, json] of change.set) args.push(field, json);
        args.push(...change.remove);
        return runWindowCommit(client, [keys.stream, keys.windows, keys.watermark, keys.windowsOwner, keys.windowsLastCommit], args);
      });
    },
    async forget(partition, fields) {
      if (fields.length === 0) return;
      // Fenced like the commit: a holder taken over must not delete windows the new holder has not
      // emitted yet. Refused, it changes nothing; its next commit reports the partition lost.
      await buffer.withPartition(partition, "forget windows", async (client, keys) => {
        for (let i = 0; i < fields.length; i += FORGET_CHUNK) {
          if (!(await runWindowForget(client, [keys.windows, keys.windowsOwner], consumer, fields.slice(i, i + FORGET_CHUNK)))) return;
        }
      });
    },
    // The buffer is the vertex's: its owner closes it.
    async close() {},
  };
}
