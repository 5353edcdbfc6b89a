/**
 * One worker at a time for an ordered vertex on Redis (issue #15 part 2). A consumer group hands
 * a partition's entries to whichever worker asks, so two live workers of one vertex would map a
 * key's messages side by side, and a worker that takes over a dead one's entries after
 * `claimIdle` would deliver them after newer ones it read meanwhile. Under `ordered` a worker
 * therefore holds a lease on the vertex while it runs it:
 *
 *   start ──SET lease NX (or mine)──▶ held ──adopt the dead holders' pending entries (XCLAIM JUSTID)──▶ run
 *     │ held by another worker                         │ renew every ttl/3
 *     ▼                                                ▼ lost (another worker holds it, or no renewal for a ttl)
 *   standby: try again every ttl/3                    the run fails at once, so order holds
 *
 * "No renewal for a ttl" counts from the last renewal that succeeded, whether the ones since
 * failed or are still unanswered (Redis unreachable): a holder that ran on after an outage longer
 * than the ttl would take over the entries of the standby that took its place.
 *
 * The lease lives `claimIdle` (at least 1 s) past its last renewal: a SIGKILLed holder's
 * successor starts that long after the kill, as a claim of its entries would. Adopted entries
 * join the new holder's own pending entries, which its readers re-read first, oldest first,
 * before anything new: the dead holder's messages go before later ones of their keys. JUSTID
 * leaves their delivery counts as they were (the poison guard counts deaths from them).
 * A restarted worker with the same `--replica` finds the lease its own and takes it at once.
 * The key is keys.ts `orderedLeaseKey`, so `weir reset` (pipeline/pipeline-keys.ts) deletes it.
 */
import type { PartitionedBuffer } from "../buffer/index.js";
import { partitionKeys } from "../buffer/redis/keys.js";
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";
import type { Logger } from "../observability/logger.js";
import { elapsedSince, monotonicNow } from "../time/monotonic-clock.js";

// Writes one small key; allow-oom so a Redis over maxmemory cannot make a holder lose its lease.
const TAKE_LUA = `#!lua flags=allow-oom
-- weir@${WEIR_SCRIPT_VERSION} ordered-lease-take
-- Purpose: take the lease of an ordered vertex, or renew it when this consumer holds it.
-- KEYS[1] the lease; ARGV[1] this consumer; ARGV[2] time to live, ms.
-- Returns 1 when ARGV[1] holds the lease now, else the holder's name.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return holder
`;

const RELEASE_LUA = `#!lua flags=allow-oom
-- weir@${WEIR_SCRIPT_VERSION} ordered-lease-release
-- Purpose: give the lease of an ordered vertex up, if this consumer still holds it.
-- KEYS[1] the lease; ARGV[1] this consumer. Returns 1 when it was released, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface OrderedLeaseOptions {
  readonly client: RedisClient;
  readonly key: string;
  readonly vertex: string;
  readonly consumer: string;
  /** How long the lease outlives its last renewal (the spec's claimIdle, at least 1 s). */
  readonly ttlMs: number;
  readonly logger: Logger;
  /** True once the run is over (stopped or drained while waiting): stop waiting. */
  readonly cancelled: () => boolean;
  /** The lease was lost while the vertex runs: the run must stop. */
  readonly onLost: (reason: string) => void;
}

export interface OrderedLease {
  /** Stops renewing and gives the lease up. Idempotent. */
  release(): Promise<void>;
}

const isHeld = (answer: unknown) => answer === 1 || answer === "1";

/**
 * Waits until this consumer holds the vertex's lease (standby while another worker does), then
 * renews it in the background. `undefined` when `cancelled()` became true while waiting.
 *
 * @example
 * ```ts
 * const lease = await holdOrderedLease({ client, key: orderedLeaseKey("weir", "demo", "out"), vertex: "out", consumer, ttlMs: 30_000, logger, cancelled, onLost });
 * ```
 */
export async function holdOrderedLease(options: OrderedLeaseOptions): Promise<OrderedLease | undefined> {
  const { client, key, consumer, ttlMs, logger } = options;
  const everyMs = Math.max(100, Math.floor(ttlMs / 3));
  const take = async () => client.eval(TAKE_LUA, 1, key, consumer, String(ttlMs));
  let waitingFor: string | undefined;
  // When the last renewal that succeeded was sent: Redis set the lease's expiry after that, so the
  // lease is this worker's for at least a ttl from then.
  let renewedAt: number;
  for (;;) {
    if (options.cancelled()) return undefined;
    renewedAt = monotonicNow();
    const answer = await take();
    if (isHeld(answer)) break;
    if (waitingFor !== String(answer)) {
      waitingFor = String(answer);
      logger.warn("ordered vertex is run by another worker; standing by until its lease is free", { vertex: options.vertex, holder: waitingFor, leaseTtlMs: ttlMs });
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  if (waitingFor !== undefined) logger.info("took over the ordered vertex's lease", { vertex: options.vertex, from: waitingFor });
  let released = false;
  const timer = setInterval(() => {
    // Renewals Redis has not answered (unreachable: ioredis holds commands while it reconnects)
    // renewed nothing: past the ttl a standby may hold the lease, and this worker must stop before
    // its held reads and claims run on the Redis that comes back, taking the new holder's entries.
    if (elapsedSince(renewedAt) >= ttlMs) {
      lose(`it was not renewed for ${ttlMs} ms: Redis did not answer`);
      return;
    }
    const sentAt = monotonicNow();
    take().then(
      (answer) => {
        if (released) return;
        if (isHeld(answer)) renewedAt = Math.max(renewedAt, sentAt);
        else lose(`worker '${String(answer)}' holds it now`);
      },
      (error: unknown) => {
        // A failed renewal is retried at the next tick; past the ttl another worker may have it.
        if (!released && elapsedSince(renewedAt) >= ttlMs) lose(`it could not be renewed for ${ttlMs} ms: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }, everyMs);
  timer.unref();
  const lose = (why: string) => {
    if (released) return;
    released = true;
    clearInterval(timer);
    options.onLost(`lost the lease of ordered vertex '${options.vertex}' (${why}); this worker stops so that no key is processed by two workers at once`);
  };
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await client.eval(RELEASE_LUA, 1, key, consumer).catch((error: unknown) => logger.warn("could not release the ordered lease; it expires by itself", { vertex: options.vertex, error: String(error) }));
    },
  };
}

/**
 * Moves every entry other consumers hold pending on the vertex's partitions to `consumer`
 * (XCLAIM … JUSTID: delivery counts unchanged), so its readers re-read them, oldest first,
 * before any new entry. Called by the lease holder only: the other consumers are dead.
 * Returns how many entries were adopted.
 */
export async function adoptPendingEntries(options: {
  readonly client: RedisClient;
  readonly buffer: PartitionedBuffer;
  readonly keyPrefix: string;
  readonly consumer: string;
}): Promise<number> {
  const { client, buffer, consumer } = options;
  if (buffer.pendingDeliveries === undefined) return 0;
  let adopted = 0;
  for (let partition = 0; partition < buffer.partitions; partition += 1) {
    const stream = partitionKeys(options.keyPrefix, buffer.name, partition).stream;
    let start: string | undefined;
    for (;;) {
      const page = await buffer.pendingDeliveries(partition, { max: 1_000, ...(start === undefined ? {} : { start }) });
      const ids = page.filter((entry) => entry.consumer !== consumer).map((entry) => entry.offset);
      if (ids.length > 0) {
        await client.call("XCLAIM", stream, buffer.name, consumer, "0", ...ids, "JUSTID");
        adopted += ids.length;
      }
      if (page.length < 1_000) break;
      start = `(${page[page.length - 1]!.offset}`;
    }
  }
  return adopted;
}
