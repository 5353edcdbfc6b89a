/**
 * The Lua scripts behind the Redis buffer and the `redisStream` sink, embedded as strings (so
 * they are found the same way from `src` under vitest and from `dist` when built).
 *
 * Each script reads-then-writes or touches two keys, so it must run atomically; each touches
 * the keys of ONE partition only (one hash tag, see keys.ts), which Redis Cluster requires.
 * Every script starts with its `#!lua` flags line ({@link SHEBANG}: what Redis may refuse under
 * `maxmemory`), then a header stating its purpose, KEYS, ARGV and return values, and its
 * name carries the package version (`weir@0.1.0 write-3`): the header is part of the script
 * text, so two Weir versions sharing one Redis load two different scripts (different SHA1s) and
 * never run each other's code. Negative return codes become typed errors in one place,
 * {@link scriptCodeError}.
 *
 * Scripts are registered with ioredis `defineCommand`, which runs EVALSHA and falls back to
 * EVAL after a NOSCRIPT (a restarted or failed-over Redis has an empty script cache). The calls
 * with an argument or two per message (the buffer's write and ack) are sent by
 * script-command.ts instead, with the same rule, their arguments written straight into the
 * command's bytes (issue 12).
 */
import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";
import { BufferError } from "../buffer-error.js";

/** This package's version, which versions the scripts (see the module doc). */
export const WEIR_SCRIPT_VERSION: string = readPackageVersion();

/** Negative codes a script may return instead of its normal reply. */
export const ScriptCode = {
  /** `write`: every upstream of the buffer already declared end of stream. */
  STREAM_ENDED: -1,
} as const;

export type ScriptName = "write" | "bufferWrite" | "frameWrite" | "ack" | "trimAck" | "frameAck" | "frameDeliver" | "claim" | "state";

export interface ScriptDefinition {
  readonly name: ScriptName;
  readonly numberOfKeys: number;
  /** The ioredis command name, e.g. `weir_0_1_0_write`. */
  readonly command: string;
  readonly lua: string;
}

/**
 * Shared Lua helpers, prepended to scripts that need them (also by scripts outside this file that
 * ack buffer entries, e.g. reduce/window-commit-script.ts). Stream ids are "<ms>-<seq>".
 */
export const LUA_HELPERS = `
local function id_cmp(a, b)
  local da, db = string.find(a, '-', 1, true), string.find(b, '-', 1, true)
  local am, bm = tonumber(string.sub(a, 1, da - 1)), tonumber(string.sub(b, 1, db - 1))
  if am ~= bm then if am < bm then return -1 else return 1 end end
  local as, bs = tonumber(string.sub(a, da + 1)), tonumber(string.sub(b, db + 1))
  if as ~= bs then if as < bs then return -1 else return 1 end end
  return 0
end

-- The group's last-delivered-id: every entry at or below it was delivered (and is pending or acked).
local function last_delivered(stream, group)
  if redis.call('EXISTS', stream) == 0 then return '0-0' end
  local groups = redis.call('XINFO', 'GROUPS', stream)
  for _, g in ipairs(groups) do
    local name, last
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    if name == group then return last end
  end
  return '0-0'
end

-- Calls fn with the items of list in chunks (Lua's unpack is limited to a few thousand values).
local function chunked(list, fn)
  local n = 0
  for i = 1, #list, 500 do
    n = n + fn(unpack(list, i, math.min(i + 499, #list)))
  end
  return n
end
`;

const WRITE_PURPOSE = `
Purpose: append a batch of messages to one stream, in order, as many as fit, skipping ids
  written within the dedup window (an idempotent write: a batch written again after a crash or a
  lost reply adds nothing). While the stream is full, acknowledged entries still in it are
  trimmed first (XTRIM MINID below the oldest unacknowledged entry). Capacity check, dedup and
  XADD are one atomic step, so the stream never holds more than the capacity. Creates the
  stream and the group when they are missing (a new stream, or a Redis that lost its data), so
  entries are never written to a stream their readers' group does not cover.`;

const WRITE_ARGV = `ARGV[1] capacity: entries the stream may hold; 0 = unlimited
ARGV[2] dedup window in ms; 0 = no dedup
ARGV[3] number of upstream writers; 0 = the stream never ends
ARGV[4] consumer group reading the stream (created if missing, acknowledged entries trimmed);
  "" = none (a sink's stream)
ARGV[5] approximate MAXLEN for every XADD (a sink's own retention); 0 = none
ARGV[6] F, the number of fields per entry
ARGV[7 .. 6+F] the field names
ARGV[7+F ..] per message: its id, then its F field values
Returns: {processed, added}: processed = how many messages, from the first, are now in the
  stream (added now, or skipped as duplicates); added = how many entries XADD created.
  -1 when every upstream has declared end of stream.
`;

const WRITE = `${WRITE_PURPOSE}
  The redisStream sink's write: one sorted set remembers each id for exactly the window.
KEYS[1] stream
KEYS[2] dedup set (sorted set: member = message id, score = expiry in server ms)
KEYS[3] end-of-stream set (writers that declared end of stream)
${WRITE_ARGV}`;

const BUFFER_WRITE = `${WRITE_PURPOSE}
  The buffer's write (issue 12): ids are remembered in two plain sets that take turns, one per
  window-long bucket of server time (bucket n = floor(now / window) uses set n mod 2, which
  expires at the end of bucket n + 1). A write checks the current and the previous bucket's set
  and adds to the current one, so an id is remembered for at least the window and less than two.
  Cheaper on the server than a sorted set: no score, no skiplist, and an old bucket goes as one
  key instead of one ZREMRANGEBYSCORE removal per id.
KEYS[1] stream
KEYS[2] dedup set of even buckets (set of message ids)
KEYS[3] end-of-stream set (writers that declared end of stream)
KEYS[4] dedup set of odd buckets
${WRITE_ARGV}`;

/** The write's dedup with one sorted set (KEYS[2]: id → expiry): `dedup_begin`, `dedup_known`, `dedup_add`. */
const ZSET_DEDUP = `
local dedup = KEYS[2]
local function dedup_begin(now)
  redis.call('ZREMRANGEBYSCORE', dedup, '-inf', now)
end
-- Which of list[first .. last] the set holds: known[j] is true for list[first + j - 1]; nil when
-- none is (the common case). One ZMSCORE per 500 ids.
local function dedup_known(list, first, last)
  local known
  for c = first, last, 500 do
    local scores = redis.call('ZMSCORE', dedup, unpack(list, c, math.min(c + 499, last)))
    for j = 1, #scores do
      if scores[j] then
        known = known or {}
        known[c - first + j] = true
      end
    end
  end
  return known
end
-- Remembers list[first .. last] for the window; returns how many were new to the set.
local function dedup_add(list, first, last, now, window)
  local added = 0
  local zargs = {}
  for i = first, last do
    zargs[#zargs + 1] = now + window
    zargs[#zargs + 1] = list[i]
    if #zargs >= 1000 then
      added = added + redis.call('ZADD', dedup, unpack(zargs))
      zargs = {}
    end
  end
  if #zargs > 0 then added = added + redis.call('ZADD', dedup, unpack(zargs)) end
  -- The whole set expires a window after the last write, so an idle stream leaves no dedup key.
  redis.call('PEXPIRE', dedup, window)
  return added
end
`;

/** The buffer write's dedup with two bucket sets (KEYS[2], KEYS[4]), same three functions. */
const BUCKET_DEDUP = `
local current, previous, bucket
-- Expiry (PEXPIRETIME: unix ms, -2 when the set is missing) of the current set, and whether the
-- previous one exists: read once per write, so no later call asks again (issue 12, session 12).
local current_expiry, previous_exists
local function dedup_begin(now)
  bucket = math.floor(now / window)
  if bucket % 2 == 0 then current, previous = KEYS[2], KEYS[4] else current, previous = KEYS[4], KEYS[2] end
  -- The set of bucket n - 2 (same key) expired at n * window, and the previous one's predecessor
  -- (bucket n - 3) at (n - 1) * window; Redis may not have dropped them yet within this script, so
  -- a set whose expiry is that old is stale and goes now (its expiry tells the bucket it was for).
  current_expiry = redis.call('PEXPIRETIME', current)
  if current_expiry >= 0 and current_expiry <= (bucket + 1) * window then
    redis.call('DEL', current)
    current_expiry = -2
  end
  local expiry = redis.call('PEXPIRETIME', previous)
  if expiry >= 0 and expiry <= bucket * window then
    redis.call('DEL', previous)
    expiry = -2
  end
  previous_exists = expiry ~= -2
end
-- Whether an SMISMEMBER reply holds a 1: one C call over the reply instead of a Lua loop, as no id
-- is known in the common case.
local function any_member(reply)
  return #reply > 0 and math.max(unpack(reply)) == 1
end
-- Which of list[first .. last] either set holds: known[j] is true for list[first + j - 1]; nil
-- when none is (the common case). One SMISMEMBER per 500 ids and set; reads the list in place
-- (the frame write passes ARGV itself).
local function dedup_known(list, first, last)
  local known
  for c = first, last, 500 do
    local e = math.min(c + 499, last)
    local now_in = redis.call('SMISMEMBER', current, unpack(list, c, e))
    local before_in = previous_exists and redis.call('SMISMEMBER', previous, unpack(list, c, e)) or nil
    if any_member(now_in) or (before_in ~= nil and any_member(before_in)) then
      for j = 1, #now_in do
        if now_in[j] == 1 or (before_in ~= nil and before_in[j] == 1) then
          known = known or {}
          known[c - first + j] = true
        end
      end
    end
  end
  return known
end
-- Adds list[first .. last] to the current set (500 per SADD); returns how many were new to it. The
-- set's expiry is set once per bucket: every write of bucket n sets the same (n + 2) * window.
local function dedup_add(list, first, last, now, window)
  local added = 0
  for c = first, last, 500 do added = added + redis.call('SADD', current, unpack(list, c, math.min(c + 499, last))) end
  local expiry = (bucket + 2) * window
  if current_expiry ~= expiry then
    redis.call('PEXPIREAT', current, expiry)
    current_expiry = expiry
  end
  return added
end
`;

/**
 * How both write scripts open (after their dedup functions): refuse once every upstream ended, make the
 * group with the stream, and start the dedup window's clock (`now`, server time in ms).
 */
const WRITE_OPEN = `if upstreams > 0 and redis.call('SCARD', eos) >= upstreams then return -1 end
-- created: the caller made the group before writing, so a stream missing now was lost (its reply says so).
local created = 0
if group ~= '' and redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  created = 1
end
local now = 0
if window > 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  dedup_begin(now)
end
`;

const WRITE_BODY = `
local stream, eos = KEYS[1], KEYS[3]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local upstreams = tonumber(ARGV[3])
local group = ARGV[4]
local maxlen = tonumber(ARGV[5])
local nfields = tonumber(ARGV[6])
local first = 7 + nfields
local stride = 1 + nfields
local count = (#ARGV - first + 1) / stride
%DEDUP%
${WRITE_OPEN}
-- Drops acknowledged entries left below the oldest unacknowledged one (pending, or the first
-- undelivered). Weir's own acks delete entries at once, so this only finds what other clients left.
local function trim_acked()
  if group == '' then return end
  local summary = redis.call('XPENDING', stream, group)
  if summary[1] > 0 then
    redis.call('XTRIM', stream, 'MINID', summary[2])
  else
    local last = last_delivered(stream, group)
    if last ~= '0-0' then
      redis.call('XTRIM', stream, 'MINID', last)
      redis.call('XDEL', stream, last)
    end
  end
end

-- Which ids of the batch the dedup window holds, fetched for the whole batch at once rather
-- than per message. Ids the script adds itself are in 'seen'.
local known
if window > 0 then
  local ids = {}
  for i = 0, count - 1 do ids[i + 1] = ARGV[first + i * stride] end
  known = dedup_known(ids, 1, count)
end

local len = 0
if capacity > 0 then len = redis.call('XLEN', stream) end
local trimmed = false
local processed, added = 0, 0
local seen = {}
local fresh = {}
local xargs
if nfields ~= 1 then
  xargs = {}
  if maxlen > 0 then xargs = {'MAXLEN', '~', maxlen} end
  xargs[#xargs + 1] = '*'
end
for i = 0, count - 1 do
  local base = first + i * stride
  local id = ARGV[base]
  local dup = false
  if window > 0 then dup = seen[id] or (known ~= nil and known[i + 1]) end
  if not dup then
    if capacity > 0 and len >= capacity then
      if trimmed then break end
      trimmed = true
      trim_acked()
      len = redis.call('XLEN', stream)
      if len >= capacity then break end
    end
    if nfields == 1 then
      if maxlen > 0 then
        redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', ARGV[7], ARGV[base + 1])
      else
        redis.call('XADD', stream, '*', ARGV[7], ARGV[base + 1])
      end
    else
      local args = {unpack(xargs)}
      for f = 1, nfields do
        args[#args + 1] = ARGV[6 + f]
        args[#args + 1] = ARGV[base + f]
      end
      redis.call('XADD', stream, unpack(args))
    end
    len = len + 1
    added = added + 1
    if window > 0 then
      seen[id] = true
      fresh[#fresh + 1] = id
    end
  end
  processed = processed + 1
end
if #fresh > 0 then dedup_add(fresh, 1, #fresh, now, window) end
return {processed, added, created}
`;

const ACK = `
Purpose: acknowledge entries and delete them in one step, so a stream holds exactly its
  unacknowledged entries (XLEN is the buffer's length) and cannot grow without bound. Entries
  that were never delivered are neither acknowledged nor deleted.
KEYS[1] stream
ARGV[1] consumer group
ARGV[2 ..] entry ids (an id given twice is acknowledged, deleted and counted once)
Returns: how many entries were newly acknowledged (as XACK counts).
`;

/**
 * The plain ack as a Lua function, `ack_delete(stream, group, ids)`, returning how many ids were
 * newly acknowledged: the `ack` script's body (the `redisStream` source's `deleteOnAck`; Weir's own
 * buffers ack with {@link ACK_TRIM_LUA}). Needs {@link LUA_HELPERS}.
 */
export const ACK_DELETE_LUA = `
local function ack_delete(stream, group, ids)
  local acked = chunked(ids, function(...) return redis.call('XACK', stream, group, ...) end)
  if acked == #ids then
    chunked(ids, function(...) return redis.call('XDEL', stream, ...) end)
  else
    -- Some ids were not pending: delete only delivered ones (at or below last-delivered-id), which
    -- are now all acknowledged (acked just now, or before and already deleted).
    local last = last_delivered(stream, group)
    local delivered = {}
    for _, id in ipairs(ids) do
      if id_cmp(id, last) <= 0 then delivered[#delivered + 1] = id end
    end
    chunked(delivered, function(...) return redis.call('XDEL', stream, ...) end)
  end
  return acked
end
`;

const TRIM_ACK = `
Purpose: the buffer's ack: acknowledge entries and remove them, as the ack script does, but drop
  the acknowledged prefix of the stream with one XTRIM MINID instead of one XDEL per entry (XDEL
  costs about 0.8 µs of server CPU per entry, XTRIM a few hundredths). Every entry below the
  oldest pending one (or, with none pending, at or below last-delivered-id) was delivered and is
  no longer pending, so it is acknowledged and may go. Acked ids at or above that floor (acks out
  of stream order) are XDELed as before. Only for Weir's own buffer streams, whose group starts
  at 0: in a user's stream (redisStream source, group created at $) entries below the group were
  never delivered, and the plain ack script is used there.
KEYS[1] stream
ARGV[1] consumer group
ARGV[2 ..] entry ids, in ascending stream order (an id given twice is acknowledged and counted once)
Returns: how many entries were newly acknowledged (as XACK counts).
`;

/**
 * The buffer's ack as a Lua function, `ack_trim(stream, group, ids)` with `ids` in ascending stream
 * order, returning how many ids were newly acknowledged: the `trimAck` script's body, and the ack
 * inside any script that acks buffer entries together with other writes
 * (reduce/window-commit-script.ts), so both ack alike. Needs {@link LUA_HELPERS}.
 */
export const ACK_TRIM_LUA = `
-- Removes what an ack of ids (ascending) left acknowledged: the acked prefix with one XTRIM MINID,
-- acked ids above the oldest pending one with XDEL. acked: how many of ids XACK acknowledged.
local function trim_after_ack(stream, group, ids, acked)
  local summary = redis.call('XPENDING', stream, group)
  local floor
  if summary[1] > 0 then
    floor = summary[2]
    redis.call('XTRIM', stream, 'MINID', floor)
  else
    -- Nothing pending: everything up to last-delivered-id is acknowledged, that id included.
    floor = last_delivered(stream, group)
    if floor == '0-0' then return acked end
    redis.call('XTRIM', stream, 'MINID', floor)
    redis.call('XDEL', stream, floor)
  end
  -- Ids at or above the floor were not trimmed. The ids are sorted, so they are a suffix: walk it
  -- from the end (usually empty: acks come in stream order).
  local above = {}
  for i = #ids, 1, -1 do
    if id_cmp(ids[i], floor) <= 0 then break end
    above[#above + 1] = ids[i]
  end
  if #above > 0 then
    if acked < #ids then
      -- Some ids were not pending: delete only delivered ones (at or below last-delivered-id).
      local last = last_delivered(stream, group)
      local delivered = {}
      for _, id in ipairs(above) do
        if id_cmp(id, last) <= 0 then delivered[#delivered + 1] = id end
      end
      above = delivered
    end
    chunked(above, function(...) return redis.call('XDEL', stream, ...) end)
  end
  return acked
end

local function ack_trim(stream, group, ids)
  local acked = chunked(ids, function(...) return redis.call('XACK', stream, group, ...) end)
  return trim_after_ack(stream, group, ids, acked)
end
`;

const TRIM_ACK_BODY = `${ACK_TRIM_LUA}
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
return ack_trim(KEYS[1], ARGV[1], ids)
`;

const ACK_BODY = `${ACK_DELETE_LUA}
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
return ack_delete(KEYS[1], ARGV[1], ids)
`;


const FRAME_WRITE = `
Purpose: a framed buffer's write (issue 12, frames.ts): append a batch of messages to one stream
  as ONE entry (field "f") holding those of its messages that fit and that the dedup window does
  not hold, in order. Dedup is per message id, in the two bucket sets of bufferWrite (same sets,
  the ids read from ARGV in place), so a batch written again with another grouping adds only what
  is new, and the count of skipped messages stays exact. Capacity counts messages: KEYS[5] holds how many are in
  the stream and not acked (this script adds, frameAck subtracts; created from XLEN when missing,
  and reset when the stream is empty). The frame is XADDed as sent when every message goes in;
  otherwise rebuilt in Lua from the kept messages (struct.unpack of the frame's u32 lengths).
KEYS[1] stream
KEYS[2] dedup set of even buckets (set of message ids)
KEYS[3] end-of-stream set (writers that declared end of stream)
KEYS[4] dedup set of odd buckets
KEYS[5] length (messages not yet acked)
ARGV[1] capacity: messages the stream may hold; 0 = unlimited
ARGV[2] dedup window in ms; 0 = no dedup
ARGV[3] number of upstream writers; 0 = the stream never ends
ARGV[4] consumer group reading the stream (created if missing)
ARGV[5] the frame of the n messages (frames.ts)
ARGV[6 .. 5+n] the messages' ids, in frame order
Returns: {processed, added}: processed = how many messages, from the first, are now in the
  stream (added now, or skipped as duplicates); added = how many the new entry holds.
  -1 when every upstream has declared end of stream.
`;

const FRAME_WRITE_BODY = `
local stream, eos, lenkey = KEYS[1], KEYS[3], KEYS[5]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local upstreams = tonumber(ARGV[3])
local group = ARGV[4]
local frame = ARGV[5]
local count = #ARGV - 5
%DEDUP%
${WRITE_OPEN}
-- The ids are read from ARGV in place: no copy of them into a table of their own.
local known
if window > 0 then known = dedup_known(ARGV, 6, 5 + count) end
-- The length counter: made from XLEN when missing (a stream of plain entries, or a lost key);
-- an empty stream holds nothing, whatever the counter says (entries acked by something else).
local len = redis.call('GET', lenkey)
if len then len = tonumber(len) else
  len = redis.call('XLEN', stream)
  redis.call('SET', lenkey, len)
end
local room = count
if capacity > 0 then
  if len >= capacity and redis.call('XLEN', stream) == 0 then
    len = 0
    redis.call('SET', lenkey, 0)
  end
  room = capacity - len
end
-- The common case: no id known and room for every message. The frame goes as sent and one SADD
-- records the ids, with no per-message work in Lua (issue 12: ~0.25 µs/msg of server CPU). SADD
-- adds fewer than count only when an id repeats within the batch: then the loop below drops the
-- repeats (SADDing again adds nothing). SADD before XADD is safe because XADD with '*' cannot fail
-- once the script runs: the shebang has Redis refuse the whole script under maxmemory before it
-- writes anything, and a script that wrote cannot be killed.
if known == nil and room >= count and (window == 0 or dedup_add(ARGV, 6, 5 + count, now, window) == count) then
  redis.call('XADD', stream, '*', 'f', frame)
  redis.call('INCRBY', lenkey, count)
  return {count, count, created}
end
local processed, added = 0, 0
local seen, fresh, keep = {}, {}, {}
for i = 1, count do
  local id = ARGV[5 + i]
  local dup = false
  if window > 0 then dup = seen[id] or (known ~= nil and known[i]) end
  if not dup then
    if added >= room then break end
    added = added + 1
    keep[added] = i
    if window > 0 then
      seen[id] = true
      fresh[#fresh + 1] = id
    end
  end
  processed = processed + 1
end
if added > 0 then
  local value = frame
  if added < count then
    local parts = {struct.pack('<I4', added)}
    local pos, k = 5, 1
    for i = 1, keep[added] do
      local n = struct.unpack('<I4', frame, pos)
      if keep[k] == i then
        parts[#parts + 1] = string.sub(frame, pos, pos + 3 + n)
        k = k + 1
      end
      pos = pos + 4 + n
    end
    value = table.concat(parts)
  end
  redis.call('XADD', stream, '*', 'f', value)
  redis.call('INCRBY', lenkey, added)
end
if #fresh > 0 then dedup_add(fresh, 1, #fresh, now, window) end
return {processed, added, created}
`;

const FRAME_ACK = `
Purpose: a framed buffer's ack (issue 12): acknowledge whole entries whose messages the client
  has all acked, remove them as trimAck does, and subtract their messages from the length
  counter. Each entry is XACKed alone, so only entries acknowledged now count (an entry acked
  twice, or never delivered, subtracts nothing). An entry acked in part records its acked prefix
  (a restart re-reads only the rest), and its delivery count is capped at ARGV[2]: the count is
  read as the deaths of the entry's first unacked message (pipeline/redelivery-guard.ts), which
  is not handed out yet; frameDeliver counts its delivery when it is.
KEYS[1] stream
KEYS[2] length (messages not yet acked)
KEYS[3] frame progress (hash: entry id → acked prefix)
ARGV[1] consumer group
ARGV[2] delivery count cap for an entry acked in part (maxDeliveries - 1); 0 = none
ARGV[3 ..] per entry, in ascending stream order: its id, its message count n (-1 for a plain
  per-message entry: one message), and its acked prefix p (p = n: every message, the entry goes)
Returns: per entry, 1 when XACK acknowledged it now, else 0; for an entry acked in part, 2 when
  its count was capped, else 0.
`;

const FRAME_ACK_BODY = `${ACK_TRIM_LUA}
local stream, lenkey, progress, group = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local cap = tonumber(ARGV[2])
local ids, flags = {}, {}
local acked, gone = 0, 0
-- Whether the progress hash may hold an entry: asked once, so a whole entry's ack pays no HDEL
-- while no entry is acked in part (the common case).
local has_progress
for i = 3, #ARGV, 3 do
  local id, n, p = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if n >= 0 and p < n then
    flags[#flags + 1] = 0
    redis.call('HSET', progress, id, p)
    has_progress = true
    if cap > 0 then
      local info = redis.call('XPENDING', stream, group, id, id, 1)
      if #info == 1 and tonumber(info[1][4]) > cap then
        redis.call('XCLAIM', stream, group, info[1][2], 0, id, 'RETRYCOUNT', cap, 'JUSTID')
        flags[#flags] = 2
      end
    end
  else
    ids[#ids + 1] = id
    local now = redis.call('XACK', stream, group, id)
    flags[#flags + 1] = now
    if n >= 0 then
      if has_progress == nil then has_progress = redis.call('EXISTS', progress) == 1 end
      if has_progress then redis.call('HDEL', progress, id) end
    end
    if now == 1 then
      acked = acked + 1
      gone = gone + math.max(n, 1)
    end
  end
end
if #ids > 0 then trim_after_ack(stream, group, ids, acked) end
-- Only a framed buffer keeps the counter (frameWrite makes it); never created here.
if gone > 0 and redis.call('EXISTS', lenkey) == 1 and redis.call('DECRBY', lenkey, gone) < 0 then redis.call('SET', lenkey, 0) end
return flags
`;

const FRAME_DELIVER = `
Purpose: count one delivery of a framed entry whose next message is handed out from what the
  buffer object kept of it (no XREADGROUP), after frameAck capped its count: so the count stays
  the deaths of the entry's first unacked message plus its delivery now (redelivery-guard.ts).
KEYS[1] stream
ARGV[1] consumer group
ARGV[2] entry id
Returns: the entry's delivery count now, or 0 when it is not pending.
`;

const FRAME_DELIVER_BODY = `
local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #info == 0 then return 0 end
local count = tonumber(info[1][4]) + 1
redis.call('XCLAIM', KEYS[1], ARGV[1], info[1][2], 0, ARGV[2], 'RETRYCOUNT', count, 'JUSTID')
return count
`;

const CLAIM = `
Purpose: move up to max entries that have been pending for OTHER consumers for at least
  min-idle ms to this consumer, oldest first (XAUTOCLAIM would also take the claimer's own
  entries). XCLAIM re-checks the idle time and resets it.
KEYS[1] stream
ARGV[1] consumer group
ARGV[2] consumer that takes the entries
ARGV[3] min-idle, ms
ARGV[4] max entries
Returns: XCLAIM's reply: {{id, {field, value, ...}}, ...}.
`;

const CLAIM_BODY = `
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local idle, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = {}
local start = '-'
local page = math.max(max, 100)
while #ids < max do
  local pending = redis.call('XPENDING', stream, group, 'IDLE', idle, start, '+', page)
  for _, p in ipairs(pending) do
    if p[2] ~= consumer then
      ids[#ids + 1] = p[1]
      if #ids >= max then break end
    end
  end
  if #pending < page then break end
  start = '(' .. pending[#pending][1]
end
local out = {}
for i = 1, #ids, 500 do
  local claimed = redis.call('XCLAIM', stream, group, consumer, idle, unpack(ids, i, math.min(i + 499, #ids)))
  for _, entry in ipairs(claimed) do out[#out + 1] = entry end
end
return out
`;

const STATE = `
Purpose: tell a reader whether its partition has ended: every upstream declared end of stream,
  and (then) whether entries remain that some reader still has to see: undelivered ones, or
  ones pending for another consumer (a dead one's must be claimed, a live one's may still fail
  over to this one). Run right after a read, so a write that raced the read is seen as
  undelivered rather than lost.
  Messages parked for a delayed redelivery (KEYS[3]) remain too: the partition has not ended
  while one waits (flow/delayed-redis-store.ts).
KEYS[1] stream
KEYS[2] end-of-stream set
KEYS[3] delayed set (parked messages by due time)
ARGV[1] consumer group
ARGV[2] number of upstream writers (> 0)
ARGV[3] the asking consumer (it checks its own pending entries itself: see consumer-group-stream.ts)
Returns: {ended, remaining}, each 0 or 1.
`;

const STATE_BODY = `
local stream, eos, group = KEYS[1], KEYS[2], ARGV[1]
if redis.call('SCARD', eos) < tonumber(ARGV[2]) then return {0, 0} end
if redis.call('ZCARD', KEYS[3]) > 0 then return {1, 1} end
-- Undelivered entries are never deleted and always newer than the last delivered one, so some
-- remain exactly when the newest entry is newer than last-delivered-id.
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
if #newest == 0 then return {1, 0} end
if id_cmp(newest[1][1], last_delivered(stream, group)) > 0 then return {1, 1} end
local summary = redis.call('XPENDING', stream, group)
if summary[4] then
  for _, consumer in ipairs(summary[4]) do
    if consumer[1] ~= ARGV[3] and tonumber(consumer[2]) > 0 then return {1, 1} end
  end
end
return {1, 0}
`;

/**
 * Each script's Redis 7 flags, in its `#!lua` shebang line. A script with a shebang and without
 * `allow-oom` is refused as a whole while Redis is over `maxmemory`, before it writes anything.
 * Without a shebang Redis refuses only a script's first memory-growing command, and only while
 * the script has changed nothing yet: the write script's dedup expiry (ZREMRANGEBYSCORE) or trim
 * counted as a change, and its XADDs then ran on, growing Redis to several times its maxmemory.
 * - write, bufferWrite, frameWrite: no flags — refused under memory pressure (a full buffer: see RedisStreamBuffer.write).
 * - ack, trimAck, frameAck, frameDeliver, claim: `allow-oom` — they free memory (XACK + XDEL) or move entries between consumers;
 *   refusing them under memory pressure would keep Redis full for good.
 * - state: `no-writes` — it only reads.
 */
const SHEBANG: Readonly<Record<ScriptName, string>> = {
  write: "#!lua",
  bufferWrite: "#!lua",
  frameWrite: "#!lua",
  ack: "#!lua flags=allow-oom",
  trimAck: "#!lua flags=allow-oom",
  frameAck: "#!lua flags=allow-oom",
  frameDeliver: "#!lua flags=allow-oom",
  claim: "#!lua flags=allow-oom",
  state: "#!lua flags=no-writes",
};

/** The ack's flags line, for scripts that ack buffer entries (they must run under maxmemory too). */
export const ACK_SHEBANG: string = SHEBANG.ack;

function define(name: ScriptName, numberOfKeys: number, header: string, body: string): ScriptDefinition {
  const lua = `${SHEBANG[name]}\n--[[ weir@${WEIR_SCRIPT_VERSION} ${name}-${numberOfKeys}\n${header}]]\n${LUA_HELPERS}${body}`;
  return { name, numberOfKeys, command: `weir_${WEIR_SCRIPT_VERSION.replace(/[^a-zA-Z0-9]/g, "_")}_${name}`, lua };
}

/** Every script, by name. */
export const scripts: Readonly<Record<ScriptName, ScriptDefinition>> = {
  write: define("write", 3, WRITE, WRITE_BODY.replace("%DEDUP%", ZSET_DEDUP)),
  bufferWrite: define("bufferWrite", 4, BUFFER_WRITE, WRITE_BODY.replace("%DEDUP%", BUCKET_DEDUP)),
  frameWrite: define("frameWrite", 5, FRAME_WRITE, FRAME_WRITE_BODY.replace("%DEDUP%", BUCKET_DEDUP)),
  ack: define("ack", 1, ACK, ACK_BODY),
  trimAck: define("trimAck", 1, TRIM_ACK, TRIM_ACK_BODY),
  frameAck: define("frameAck", 3, FRAME_ACK, FRAME_ACK_BODY),
  frameDeliver: define("frameDeliver", 1, FRAME_DELIVER, FRAME_DELIVER_BODY),
  claim: define("claim", 1, CLAIM, CLAIM_BODY),
  state: define("state", 3, STATE, STATE_BODY),
};

type ScriptArg = string | Buffer | number;
type ScriptCommand = (...args: ScriptArg[]) => Promise<unknown>;

/** Registers every script on a client (idempotent per client). */
export function defineScripts(client: Redis | Cluster): void {
  const registry = client as unknown as Record<string, unknown>;
  for (const script of Object.values(scripts)) {
    if (typeof registry[script.command] === "function") continue;
    client.defineCommand(script.command, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}

/**
 * Runs a script registered by {@link defineScripts}. `buffers: true` returns bulk strings as
 * Buffers (binary entries); otherwise as strings.
 */
export function runScript(
  client: Redis | Cluster,
  name: ScriptName,
  keys: readonly string[],
  args: readonly ScriptArg[],
  buffers = false,
): Promise<unknown> {
  const script = scripts[name];
  const registry = client as unknown as Record<string, ScriptCommand>;
  const command = registry[buffers ? `${script.command}Buffer` : script.command];
  if (command === undefined) defineScripts(client);
  return (registry[buffers ? `${script.command}Buffer` : script.command] as ScriptCommand).call(client, ...keys, ...args);
}

/**
 * The one place where a script's negative return code becomes a typed error.
 *
 * @param subject names what was being written, e.g. `buffer "demo.out" partition 2`.
 */
export function scriptCodeError(name: ScriptName, code: number, subject: string): BufferError {
  if ((name === "write" || name === "bufferWrite" || name === "frameWrite") && code === ScriptCode.STREAM_ENDED) {
    return new BufferError(
      "BUFFER_STREAM_ENDED",
      `${subject}: write after every upstream declared end of stream; a writer must call endOfStream only after its last write`,
    );
  }
  return new BufferError("BUFFER_SCRIPT", `${subject}: script ${name} returned unknown code ${code}; every Weir process sharing this Redis must run the same version`);
}

function readPackageVersion(): string {
  // src/buffer/redis/scripts.ts and dist/buffer/redis/scripts.js sit equally deep in the package.
  try {
    const text = readFileSync(new URL("../../../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    if (typeof version === "string" && version.length > 0) return version;
  } catch {
    // Bundled without its package.json: fall through.
  }
  return "0.0.0-unknown";
}
