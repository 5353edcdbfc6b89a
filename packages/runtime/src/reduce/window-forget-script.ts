/**
 * The Lua script of a reduce vertex's `forget` on Redis (redis-window-store.ts): deletes emitted
 * windows only while this consumer owns the partition's state, the same fence as the commit
 * (window-commit-script.ts). A holder taken over may still emit a window before it learns it lost
 * the partition; its repeat emission is dropped downstream by dedup, but deleting the window
 * would race the new holder, which has not emitted it yet. Keys under the partition's hash tag.
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { ACK_SHEBANG, LUA_HELPERS, WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";

const FORGET = `
Purpose: delete emitted windows of a reduce vertex's partition, only if this consumer owns the
  state (KEYS[2] names it, or is unset); otherwise changes nothing.
KEYS[1] windows (hash: field -> window JSON)
KEYS[2] owner (string: the consumer that last loaded the state)
ARGV[1] consumer
ARGV[2 ..] fields to delete
Returns: 1 when this consumer owns the state (the fields are gone), 0 when another one does.
`;

const FORGET_BODY = `
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
chunked(fields, function(...) return redis.call('HDEL', KEYS[1], ...) end)
return 1
`;

/**
 * The script's text. Flags: the ack's (`allow-oom`): deleting is what frees memory, so it must
 * not be refused under maxmemory (buffer/redis/scripts.ts SHEBANG).
 */
export const WINDOW_FORGET_LUA = `${ACK_SHEBANG}\n--[[ weir@${WEIR_SCRIPT_VERSION} window-forget-1\n${FORGET}]]\n${LUA_HELPERS}${FORGET_BODY}`;

const sha1 = createHash("sha1").update(WINDOW_FORGET_LUA).digest("hex");

/** Runs the forget script (EVALSHA, then EVAL after a NOSCRIPT, as runWindowCommit). True when it applied. */
export async function runWindowForget(client: RedisClient, keys: readonly [string, string], consumer: string, fields: readonly string[]): Promise<boolean> {
  const args = [consumer, ...fields];
  try {
    return ((await client.evalsha(sha1, keys.length, ...keys, ...args)) as number) === 1;
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return ((await client.eval(WINDOW_FORGET_LUA, keys.length, ...keys, ...args)) as number) === 1;
  }
}
