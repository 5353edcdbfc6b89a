/**
 * A vertex's token bucket in Redis, shared by every worker process of the vertex: one Lua script
 * per take, so a take is atomic however many workers ask at once, and the clock is Redis's own
 * (`TIME`), so hosts whose clocks disagree still share one rate. The math is rate-bucket.ts's,
 * written again in Lua; rate-limit.redis.test.ts holds the two together.
 *
 * The key (keys.ts `rateLimitKey`, `<prefix>:{<pipeline>}:rate-limit:<vertex>`) is a hash
 * `{tokens, last, start}` that expires `idleResetMs` after the last call: the ramp's start lives
 * as long as some worker reads, so a worker that restarts joins the vertex at its current rate.
 */
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";
import { BURST_SECONDS, CHUNK_MS, idleResetMs, type RateParams } from "./rate-bucket.js";
import type { StoreTake, TokenStore } from "./rate-store.js";

const HEADER = `
Purpose: take up to N tokens from a vertex's rate limit bucket, or give tokens back (a short
  read) / take them without asking (a read that could not wait: the bucket goes into debt).
  Refills by the area under the rate since the last call: rate(t) climbs from min to max over
  the ramp after start, capped by the caller's adaptive ceiling (never below min). The bucket
  holds at most BURST seconds of tokens; a take grants floor(tokens) up to N once a chunk
  (CHUNK ms of tokens) is there, else nothing and the ms until a chunk is. A bucket untouched
  for IDLE ms (the key expires) starts over: full at min, ramping again. Time is Redis TIME.
KEYS[1] the bucket (hash: tokens, last, start; server ms)
ARGV[1] max, ARGV[2] min (messages per second), ARGV[3] ramp up, ms
ARGV[4] adaptive ceiling, messages per second; 0 = none
ARGV[5] N: tokens to take ('take'), or to add ('adjust', negative to take without asking)
ARGV[6] 'take' | 'adjust'
ARGV[7] IDLE, ms; ARGV[8] BURST, s; ARGV[9] CHUNK, ms
Returns: {granted, waitMs, rate as text}.
`;

const BODY = `
local key = KEYS[1]
local max, min, ramp = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ceiling, count, mode = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local idle, burst, chunk_ms = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function rate_at(since)
  local r = max
  if ramp > 0 and since < ramp then r = min + (max - min) * math.max(0, since) / ramp end
  if ceiling > 0 then r = math.max(min, math.min(r, ceiling)) end
  return r
end
local function cap(r) return math.max(1, r * burst) end
local s = redis.call('HMGET', key, 'tokens', 'last', 'start')
local tokens, last, start = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
if tokens == nil or last == nil or start == nil or now - last > idle then
  start = now
  last = now
  tokens = cap(rate_at(0))
else
  -- A clock that stepped back (a failover to a host behind) adds nothing rather than taking.
  local elapsed = math.max(0, now - last)
  local average = (rate_at(last - start) + rate_at(now - start)) / 2
  tokens = math.min(cap(rate_at(now - start)), tokens + average * elapsed / 1000)
  last = math.max(now, last)
end
local rate = rate_at(last - start)
local granted, wait = 0, 0
if mode == 'take' then
  if count > 0 then
    local chunk = math.min(count, math.max(1, math.ceil(rate * chunk_ms / 1000)))
    if tokens >= chunk then
      granted = math.min(count, math.floor(tokens))
      tokens = tokens - granted
    else
      wait = math.ceil((chunk - tokens) * 1000 / rate)
    end
  end
else
  tokens = math.min(cap(rate), tokens + count)
end
-- %.17g: tostring keeps 14 digits, a tenth of a millisecond of a server time in ms.
local function exact(x) return string.format('%.17g', x) end
redis.call('HSET', key, 'tokens', exact(tokens), 'last', exact(last), 'start', exact(start))
redis.call('PEXPIRE', key, math.ceil(idle))
return {granted, wait, exact(rate)}
`;

// allow-oom: the bucket is one small hash, and refusing it under maxmemory would stop every read,
// so nothing would be acked and deleted: Redis would stay full for good (see scripts.ts SHEBANG).
const LUA = `#!lua flags=allow-oom\n--[[ weir@${WEIR_SCRIPT_VERSION} rate-limit-1\n${HEADER}]]\n${BODY}`;
const COMMAND = `weir_${WEIR_SCRIPT_VERSION.replace(/[^a-zA-Z0-9]/g, "_")}_rate_limit`;

type Command = (key: string, ...args: Array<string | number>) => Promise<[number, number, string]>;

/**
 * The Redis store of one vertex's bucket.
 *
 * @example
 * ```ts
 * const store = redisTokenBucket(connection.client, rateLimitKey("weir", "demo", "out"), { max: 500, min: 10, rampUpMs: 10_000 });
 * const { granted } = await store.take(100, undefined);
 * ```
 */
export function redisTokenBucket(client: RedisClient, key: string, params: RateParams): TokenStore {
  const registry = client as unknown as Record<string, Command | undefined>;
  if (registry[COMMAND] === undefined) client.defineCommand(COMMAND, { numberOfKeys: 1, lua: LUA });
  const run = (count: number, mode: "take" | "adjust", ceiling: number | undefined) =>
    (registry[COMMAND] as Command).call(client, key, params.max, params.min, params.rampUpMs, ceiling ?? 0, count, mode, idleResetMs(params.rampUpMs), BURST_SECONDS, CHUNK_MS);
  return {
    async take(want, ceiling): Promise<StoreTake> {
      const [granted, waitMs, rate] = await run(want, "take", ceiling);
      return { granted: Number(granted), waitMs: Number(waitMs), rate: Number(rate) };
    },
    async adjust(count, ceiling) {
      await run(count, "adjust", ceiling);
    },
  };
}
