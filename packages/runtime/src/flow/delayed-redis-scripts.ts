/**
 * The Lua scripts of delayed redelivery on Redis (docs/flow-control.md, "Delayed redelivery"),
 * written as buffer/redis/scripts.ts writes its own: a `#!lua` flags line, a header stating
 * purpose, KEYS, ARGV and replies, and a name carrying the package version. Every script touches
 * the keys of one buffer partition only (one hash tag, buffer/redis/keys.ts).
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";

export type DelayedScriptName = "park" | "release" | "parked";

const PARK = `
Purpose: park messages for a delayed redelivery. Each is stored under its park identity with its
  due time (server clock + delay), once: an identity already parked keeps its first copy and due
  time (a park repeated after a crash parks nothing new).
KEYS[1] delayed set (sorted set: identity → due time, server ms)
KEYS[2] delayed messages (hash: identity → encoded message)
ARGV[1 ..] per message: identity, delay in ms, encoded message
Returns: how many identities were parked now.
`;

const PARK_BODY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local parked = 0
for i = 1, #ARGV, 3 do
  local identity = ARGV[i]
  if redis.call('HSETNX', KEYS[2], identity, ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[i + 1]), identity)
    parked = parked + 1
  end
end
return parked
`;

const RELEASE = `
Purpose: move up to max due messages back into the partition's stream, in due order, as new
  entries. The move of each (ZREM + HDEL + XADD) is one atomic step, so a message is parked or in
  the stream, never both and never neither. An identity released within the dedup window is not
  added again (a park repeated after a crash, found due a second time). Creates the stream and
  its group when missing, as the write script does. Leaves room for the buffer's capacity:
  moves no more than the stream has room for.
KEYS[1] stream
KEYS[2] delayed set
KEYS[3] delayed messages
KEYS[4] released identities (sorted set: identity → expiry, server ms)
KEYS[5] the stream's length counter (a framed buffer's, scripts.ts frameWrite): counted into when it exists
ARGV[1] consumer group
ARGV[2] dedup window in ms (> 0)
ARGV[3] max messages to move
ARGV[4] capacity of the stream; 0 = unlimited
Returns: {moved, duplicates, waiting, untilNext}: waiting = parked messages left; untilNext = ms
  until the next one is due (-1 when none is left).
`;

const RELEASE_BODY = `
local stream, delayed, messages, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local window, max, capacity = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', released, '-inf', now)
local counted = redis.call('GET', KEYS[5])
if capacity > 0 then
  local room = capacity - (counted and tonumber(counted) or redis.call('XLEN', stream))
  if room < max then max = room end
end
local moved, duplicates = 0, 0
if max > 0 then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, max)
  if #due > 0 and redis.call('EXISTS', stream) == 0 then
    redis.call('XGROUP', 'CREATE', stream, ARGV[1], '0', 'MKSTREAM')
  end
  for _, identity in ipairs(due) do
    local payload = redis.call('HGET', messages, identity)
    if payload and not redis.call('ZSCORE', released, identity) then
      redis.call('XADD', stream, '*', 'm', payload)
      redis.call('ZADD', released, now + window, identity)
      moved = moved + 1
    else
      duplicates = duplicates + 1
    end
    redis.call('ZREM', delayed, identity)
    redis.call('HDEL', messages, identity)
  end
  if moved > 0 then redis.call('PEXPIRE', released, window) end
  if moved > 0 and counted then redis.call('INCRBY', KEYS[5], moved) end
end
local waiting = redis.call('ZCARD', delayed)
local untilNext = -1
if waiting > 0 then
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  untilNext = math.max(0, tonumber(first[2]) - now)
end
return {moved, duplicates, waiting, untilNext}
`;

const PARKED = `
Purpose: say which park identities are parked or were released within the dedup window, so a
  worker re-processing a delivery that was parked before its worker died does not process it.
KEYS[1] delayed messages (hash)
KEYS[2] released identities (sorted set: identity → expiry, server ms)
ARGV[1 ..] identities
Returns: one 0 or 1 per identity; {} (none of them) when nothing is parked or released, so a
  partition that never parked costs two O(1) checks per batch, not two lookups per message.
`;

const PARKED_BODY = `
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #ARGV do
  local found = redis.call('HEXISTS', KEYS[1], ARGV[i])
  if found == 0 then
    local expiry = redis.call('ZSCORE', KEYS[2], ARGV[i])
    if expiry and tonumber(expiry) > now then found = 1 end
  end
  out[i] = found
end
return out
`;

/**
 * - park, release: `allow-oom` — each moves a message (out of the stream, whose entry the epoch's
 *   ack deletes; back into it, out of the hash); refusing them under memory pressure would stall
 *   parked messages or fail the attempt.
 * - parked: `no-writes`.
 */
const SHEBANG: Readonly<Record<DelayedScriptName, string>> = {
  park: "#!lua flags=allow-oom",
  release: "#!lua flags=allow-oom",
  parked: "#!lua flags=no-writes",
};

interface Definition {
  readonly numberOfKeys: number;
  readonly lua: string;
}

function define(name: DelayedScriptName, numberOfKeys: number, header: string, body: string): Definition {
  const lua = `${SHEBANG[name]}\n--[[ weir@${WEIR_SCRIPT_VERSION} delayed-${name}-${numberOfKeys}\n${header}]]\n${body}`;
  return { numberOfKeys, lua };
}

export const delayedScripts: Readonly<Record<DelayedScriptName, Definition>> = {
  park: define("park", 2, PARK, PARK_BODY),
  release: define("release", 5, RELEASE, RELEASE_BODY),
  parked: define("parked", 2, PARKED, PARKED_BODY),
};

type ScriptArg = string | Buffer | number;

const sha1s = new Map<DelayedScriptName, string>();

/**
 * Runs one of the scripts above: EVALSHA, then EVAL after a NOSCRIPT (a restarted or failed-over
 * Redis has an empty script cache). Not through `defineCommand`: a command defined on a client
 * that already auto-pipelines breaks ioredis's pipelines (`results[i] is not iterable`).
 */
export async function runDelayedScript(client: RedisClient, name: DelayedScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
  const script = delayedScripts[name];
  let sha = sha1s.get(name);
  if (sha === undefined) {
    sha = createHash("sha1").update(script.lua).digest("hex");
    sha1s.set(name, sha);
  }
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}
