/**
 * The Lua script of a reduce vertex's commit on Redis (redis-window-store.ts), written as
 * buffer/redis/scripts.ts writes its own: a `#!lua` flags line, a header stating purpose, KEYS,
 * ARGV and replies, and a name carrying the package version. Its ack is the buffer's own ack
 * (`ACK_TRIM_LUA`), not a copy, so the two cannot drift apart. Every key is under the input
 * partition's hash tag (buffer/redis/keys.ts).
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { ACK_SHEBANG, ACK_TRIM_LUA, LUA_HELPERS, WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";

const COMMIT = `
Purpose: commit one epoch of a reduce vertex in one atomic step: acknowledge and delete its input
  entries (exactly as the buffer's ack script does), apply the window state change and record the
  watermark. Applies only if this consumer owns the state (KEYS[4] names it, or is unset) and
  every entry is still pending for it; otherwise changes nothing: a zombie worker whose entries
  were claimed, or whose partition another worker loaded since, must not write the state.
KEYS[1] stream (the input partition)
KEYS[2] windows (hash: field -> window JSON)
KEYS[3] watermark (string: ms)
KEYS[4] owner (string: the consumer that last loaded the state)
KEYS[5] last commit (string: consumer|N|first id|last id of the last commit that applied)
ARGV[1] consumer group
ARGV[2] consumer
ARGV[3] watermark to record; "" = leave it as it is
ARGV[4] N, the number of entry ids (each given once, in ascending stream order)
ARGV[5 .. 4+N] entry ids
ARGV[5+N] S, the number of fields to set
ARGV[6+N .. 5+N+2S] per field: field, JSON
ARGV[6+N+2S ..] fields to delete
Returns: N when the commit applied (every entry acknowledged now), or when it is the last commit
  that applied, sent again (its reply was lost: a retry, or ioredis resending after a reconnect);
  0 when another consumer owns the state or an entry was not pending for the consumer (nothing
  changed).
`;

const COMMIT_BODY = `${ACK_TRIM_LUA}
local stream, windows, watermark = KEYS[1], KEYS[2], KEYS[3]
local group, consumer = ARGV[1], ARGV[2]
local owner = redis.call('GET', KEYS[4])
if owner and owner ~= consumer then return 0 end
local n = tonumber(ARGV[4])
local token = n > 0 and (consumer .. '|' .. n .. '|' .. ARGV[5] .. '|' .. ARGV[4 + n]) or false
-- Every id pending for the consumer: one range XPENDING answers for all of them when the consumer's
-- first n pending entries from the first id to the last are exactly the ids, in order (the usual
-- case); otherwise each id is looked up on its own, as the answer then has to be.
local ids = {}
local listed = n > 0 and redis.call('XPENDING', stream, group, ARGV[5], ARGV[4 + n], n, consumer) or {}
local all_listed = #listed == n
for i = 1, n do
  ids[i] = ARGV[4 + i]
  if all_listed and listed[i][1] ~= ids[i] then all_listed = false end
end
if not all_listed then
  for i = 1, n do
    if #redis.call('XPENDING', stream, group, ids[i], ids[i], 1, consumer) == 0 then
      if token and redis.call('GET', KEYS[5]) == token then return n end
      return 0
    end
  end
end
local s = tonumber(ARGV[5 + n])
local pairs_ = {}
for i = 6 + n, 5 + n + 2 * s do pairs_[#pairs_ + 1] = ARGV[i] end
local removed = {}
for i = 6 + n + 2 * s, #ARGV do removed[#removed + 1] = ARGV[i] end

local acked = ack_trim(stream, group, ids)
-- Chunks of 500 keep field/JSON pairs together.
chunked(pairs_, function(...) return redis.call('HSET', windows, ...) end)
chunked(removed, function(...) return redis.call('HDEL', windows, ...) end)
if ARGV[3] ~= '' then redis.call('SET', watermark, ARGV[3]) end
if token then redis.call('SET', KEYS[5], token) end
return acked
`;

/**
 * The script's text. Flags: the ack's (`allow-oom`): a commit is what acks and deletes the
 * vertex's input, so refusing it under maxmemory would keep Redis full for good (scripts.ts
 * SHEBANG); what it adds is bounded by the open windows.
 */
export const WINDOW_COMMIT_LUA = `${ACK_SHEBANG}\n--[[ weir@${WEIR_SCRIPT_VERSION} window-commit-5\n${COMMIT}]]\n${LUA_HELPERS}${COMMIT_BODY}`;

const sha1 = createHash("sha1").update(WINDOW_COMMIT_LUA).digest("hex");

/**
 * Runs the commit script: EVALSHA, then EVAL after a NOSCRIPT (a restarted or failed-over Redis
 * has an empty script cache). Not through `defineCommand`, for the reason given in
 * flow/delayed-redis-scripts.ts (auto-pipelining clients).
 */
export async function runWindowCommit(client: RedisClient, keys: readonly [string, string, string, string, string], args: readonly string[]): Promise<number> {
  try {
    return (await client.evalsha(sha1, keys.length, ...keys, ...args)) as number;
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return (await client.eval(WINDOW_COMMIT_LUA, keys.length, ...keys, ...args)) as number;
  }
}
