/**
 * The frame commit (issue 12, session 12): the framed write's common case without the frame passing
 * through Lua. Redis's Lua hashes every byte of every string it is given (the patched `luaS_newlstr`,
 * against hash flooding) and copies it twice more on the way to XADD: for a 125-message frame of
 * ~16 KB that was a quarter of the server's instructions on gen → sink (callgrind) and ~12 % of its
 * CPU. So the frame goes as a plain XADD, and this script, run right after it in the same MULTI/EXEC
 * (frame-transaction.ts), does what frameWrite does around its XADD — or takes the entry back:
 *
 * ```
 *   MULTI
 *   XADD <stream> NOMKSTREAM * f <frame>      (nothing when the stream is missing)
 *   EVAL <this script> 5 <keys> <capacity> <window> <upstreams> <id>…
 *   EXEC  ──▶ [entry id | nil, {n, n, 0} | 0 | 1]
 * ```
 *
 * It commits only the case frameWrite's fast path handles (the stream there, upstreams not ended,
 * no id known, no id repeated, room for every message, the length counter there): the ids go into
 * the current bucket set and the counter grows by n, exactly as frameWrite would have written them.
 * Anything else takes the entry back (XDEL of the stream's last entry: the one just added, since
 * MULTI/EXEC lets nothing in between) before any other write, and answers 0 (or 1: capacity), and the
 * caller writes the batch with frameWrite, which handles every case.
 *
 * Sent as EVALSHA once EVAL loaded it on the connection (EVAL's text is SHA1-hashed by Redis twice per
 * call inside MULTI — at queue time and at EXEC — which cost as much as the frame's hash). A NOSCRIPT
 * then (the script cache flushed since) comes inside EXEC, after the XADD ran: the caller settles
 * that entry with the frameAdopt script (scripts.ts) from the XADD's reply.
 */
import { BUCKET_DEDUP, WEIR_SCRIPT_VERSION } from "./scripts.js";

/** Answers of the commit other than `{n, n, 0}` (committed). */
export const FrameCommitCode = {
  /** Taken back: frameWrite decides (ids known or repeated, upstreams ended, stream missing). */
  TAKEN_BACK: 0,
  /** Taken back for want of room (or of the length counter): frameWrite trims, cuts or refuses. */
  NO_ROOM: 1,
} as const;

const HEADER = `
Purpose: commit the frame XADDed just before in the same MULTI (frame-commit-script.ts), or take it back.
KEYS[1] stream  KEYS[2] dedup set, even buckets  KEYS[3] end-of-stream set  KEYS[4] dedup set, odd buckets
KEYS[5] length (messages not yet acked)
ARGV[1] capacity (0 = unlimited)  ARGV[2] dedup window, ms (0 = none)  ARGV[3] upstream writers (0 = never ends)
ARGV[4 .. 3+n] the frame's message ids, in frame order
Returns: {n, n, 0} as frameWrite (committed), else 0 or 1 (taken back; 1: no room).
`;

const BODY = `
local stream, eos, lenkey = KEYS[1], KEYS[3], KEYS[5]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local upstreams = tonumber(ARGV[3])
local count = #ARGV - 3
${BUCKET_DEDUP}
local function take_back(code)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  redis.call('XDEL', stream, last[1][1])
  return code
end
-- NOMKSTREAM: a missing stream got nothing (frameWrite makes it and its group, and says it was lost).
-- XLEN, not EXISTS: on a key that is not a stream (where XADD failed) it fails, and nothing is committed.
if redis.call('XLEN', stream) == 0 then return 0 end
if upstreams > 0 and redis.call('SCARD', eos) >= upstreams then return take_back(0) end
local len = redis.call('GET', lenkey)
if not len or (capacity > 0 and tonumber(len) + count > capacity) then return take_back(1) end
if window > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  dedup_begin(now)
  if dedup_known(ARGV, 4, 3 + count) ~= nil then return take_back(0) end
  if dedup_add(ARGV, 4, 3 + count, now, window) ~= count then
    -- An id repeats within the batch. None was in the current set before (dedup_known), so removing
    -- the batch's ids leaves it as it was; frameWrite then writes each id once.
    for c = 4, 3 + count, 500 do redis.call('SREM', current, unpack(ARGV, c, math.min(c + 499, 3 + count))) end
    return take_back(0)
  end
end
redis.call('INCRBY', lenkey, count)
return {count, count, 0}
`;

/** The script's text: its flags line (none: refused as a whole under maxmemory, like frameWrite), a versioned header, the body. */
export const FRAME_COMMIT_LUA: string = `#!lua\n--[[ weir@${WEIR_SCRIPT_VERSION} frameCommit-5\n${HEADER}]]\n${BODY}`;
