/**
 * What a worker process writes about itself in the pipeline's workers hash (keys.ts `workersKey`):
 * field `<id>` → this record as JSON, field `<id>#beat` → the Redis server's time of its last
 * heartbeat (ms). Server time, so workers on hosts with skewed clocks are judged alike. A worker
 * that exits cleanly leaves its record marked `stopped`, so what it did (its claims of a dead
 * worker's entries) stays visible; the hash expires a day after the last beat of any worker.
 */
import type { ClaimView, ProcessState } from "./dashboard-types.js";

export interface WorkerRecord {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  /** Redis server time when it registered, ms. */
  readonly startedAt: number;
  readonly intervalMs: number;
  readonly vertices: ReadonlyArray<{ readonly name: string; readonly partitions: number }>;
  /** Its live state at its last heartbeat (what `weir ui` draws for it). */
  readonly state: ProcessState | null;
  /** Its latest claims of idle entries (other consumers'), server time. */
  readonly claims: readonly ClaimView[];
  /** It exited cleanly (its last beat was its goodbye): shown stopped, never dead. */
  readonly stopped: boolean;
}

/** A worker missing this many heartbeats in a row is shown dead. */
export const MISSED_BEATS_DEAD = 3;

export const BEAT_SUFFIX = "#beat";

/**
 * KEYS[1] workers hash. ARGV[1] worker id, ARGV[2] record JSON (its `startedAt` is filled in
 * here on the first beat when 0), ARGV[3] hash TTL in ms. Returns the server time (ms) it stamped.
 * One script, so the record and its beat time never disagree.
 */
export const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. '${BEAT_SUFFIX}', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return now
`;

/** Server time now, ms (Redis TIME). */
export const SERVER_TIME_LUA = `
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
