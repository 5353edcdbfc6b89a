/**
 * Framed stream entries (issue 12, DESIGN §7): one stream entry per partition-write, its field
 * `f` holding the batch's messages, each in its own encoding (encoding.ts), length-prefixed:
 *
 * ```
 *   u32 LE  n, the number of messages
 *   n ×     u32 LE length │ the encoded message (encoding.ts, byte for byte)
 * ```
 *
 * Fixed-width lengths, not varints: the write script cuts a frame in Lua (a prefix that fits, or
 * the messages its dedup did not find) with `struct.unpack('<I4')`. The field's name is the
 * layout's version: another layout gets another name, and readers refuse what they do not know.
 *
 * A message of a framed entry has the offset `<entry id>/<index>/<n>`: opaque to callers, and it
 * carries `n` so an ack can tell when every message of the entry is acked (the entry is XACKed
 * then) even for an entry this buffer object did not hand out. Plain per-message entries (field
 * `m`, written before frames or by a buffer built with `framed: false`) keep their entry id as
 * offset; a stream may hold both (an upgrade with entries in flight).
 */
import type { Message } from "@weir/actors";
import { BufferError } from "../buffer-error.js";
import { decodeMessageAt, messageSizeBound, writeMessage } from "./encoding.js";

/** The stream entry field holding a frame. */
export const FRAME_FIELD = "f";

/** A message offset inside a framed entry, parsed. */
export interface FramedOffset {
  readonly entry: string;
  readonly index: number;
  readonly count: number;
}

/** A run of an ack's offsets: messages `from` … `to − 1` of the `count` in framed entry `entry`, in order. */
export interface FramedRun {
  readonly entry: string;
  readonly count: number;
  readonly from: number;
  to: number;
}

/** The offset of message `index` of the `count` in framed entry `entry`. */
export function frameOffset(entry: string, index: number, count: number): string {
  return `${entry}/${index}/${count}`;
}

/** Frame sizes whose offset tails are kept (frames of one pipeline come in few sizes). */
const TAIL_SIZES_KEPT = 64;
const tailsBySize = new Map<number, string[]>();

/**
 * The offsets of the `count` messages of framed entry `entry`, as {@link frameOffset} makes
 * them: `"<entry>/"` once, then one concatenation per message with a cached `"<index>/<count>"`
 * tail, instead of a template's four intermediate strings per message (a decode runs this for
 * every message it reads; issue 12).
 */
export function frameOffsets(entry: string, count: number): string[] {
  const prefix = `${entry}/`;
  const tails = offsetTails(count);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = prefix + (tails[i] as string);
  return out;
}

function offsetTails(count: number): string[] {
  let tails = tailsBySize.get(count);
  if (tails === undefined) {
    tails = new Array(count);
    for (let i = 0; i < count; i++) tails[i] = `${i}/${count}`;
    // Bounded: an odd mix of sizes starts over rather than growing without end.
    if (tailsBySize.size >= TAIL_SIZES_KEPT) tailsBySize.clear();
    tailsBySize.set(count, tails);
  }
  return tails;
}

/**
 * The delivery unit of an offset: the stream entry it belongs to (what XPENDING lists and what
 * a delivery count counts). An entry id for a plain entry; any other offset (the memory
 * buffer's) is its own unit.
 */
export function deliveryUnitOf(offset: string): string {
  const slash = offset.indexOf("/");
  return slash < 0 ? offset : offset.slice(0, slash);
}

/** Whether `offset` is the last message of its delivery unit (always, for a plain entry or any non-framed offset). */
export function endsDeliveryUnit(offset: string): boolean {
  const framed = parseFramedOffset(offset);
  return framed === undefined || framed.index === framed.count - 1;
}

/**
 * Parses `<entry id>/<index>/<n>` (0 ≤ index < n); undefined for anything else (a plain entry
 * id included). The entry id part is checked by the caller (`isEntryId`).
 */
export function parseFramedOffset(offset: string): FramedOffset | undefined {
  const slash = offset.indexOf("/");
  if (slash < 0) return undefined;
  // One parser for the tail: the ack's run builder (it allocates nothing per message; here one run).
  const runs: FramedRun[] = [];
  const entry = offset.slice(0, slash);
  if (!addToRuns(runs, entry, offset, slash)) return undefined;
  const { from: index, count } = runs[0] as FramedRun;
  return { entry, index, count };
}

/**
 * Adds framed offset `offset` (entry `entry`, its first "/" at `slash`) to `runs`: it extends the
 * last run when it is that run's next message, else starts a run. Allocates nothing for a
 * message that extends a run (the ack runs this once per message). False when the tail is not
 * `/<index>/<n>` with index < n.
 */
export function addToRuns(runs: FramedRun[], entry: string, offset: string, slash: number): boolean {
  let index = 0;
  let i = slash + 1;
  const indexStart = i;
  for (; i < offset.length && offset.charCodeAt(i) !== 47; i++) {
    const digit = offset.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return false;
    index = index * 10 + digit;
  }
  if (i === indexStart || i - indexStart > 10 || i >= offset.length) return false;
  let count = 0;
  const countStart = ++i;
  for (; i < offset.length; i++) {
    const digit = offset.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return false;
    count = count * 10 + digit;
  }
  if (i === countStart || i - countStart > 10 || !(index < count) || count > 0xffffffff) return false;
  const last = runs.length === 0 ? undefined : runs[runs.length - 1];
  if (last !== undefined && last.entry === entry && last.count === count && last.to === index) last.to = index + 1;
  else runs.push({ entry, count, from: index, to: index + 1 });
  return true;
}

/** Bytes a frame of `messages` takes at most. */
export function frameSizeBound(messages: readonly Message[]): number {
  let bound = 4;
  for (let i = 0; i < messages.length; i++) bound += 4 + messageSizeBound(messages[i] as Message);
  return bound;
}

/** Writes the frame of `messages` at `start` (room: {@link frameSizeBound}); returns where it ends. */
export function writeFrame(buffer: Buffer, start: number, messages: readonly Message[]): number {
  writeLength(buffer, start, messages.length);
  let pos = start + 4;
  for (let i = 0; i < messages.length; i++) {
    const at = pos + 4;
    const end = writeMessage(buffer, at, messages[i] as Message);
    writeLength(buffer, pos, end - at);
    pos = end;
  }
  return pos;
}

/** Frames up to this size are copied whole for their messages' values (larger ones value by value). */
const FRAME_COPY_MAX = 64 * 1024;

/**
 * The messages of a frame, in order. Their values are views of ONE copy of the frame's bytes
 * (issue 12: one copy per frame instead of one per message; never views of `field` itself, which
 * is a view of the connection's socket chunk): a value keeps its frame's copy alive, at most
 * {@link FRAME_COPY_MAX} bytes. A larger frame's values are copied one by one (encoding.ts).
 *
 * @throws {BufferError} `BUFFER_CORRUPT_ENTRY` for bytes that are not a frame.
 */
export function decodeFrame(field: Buffer, entryId: string): Message[] {
  if (field.length < 4) throw corruptFrame(entryId, "shorter than its header");
  const count = readLength(field, 0);
  const out: Message[] = new Array(count);
  const values = field.length <= FRAME_COPY_MAX ? new Uint8Array(field) : undefined;
  let pos = 4;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > field.length) throw corruptFrame(entryId, `message ${i} of ${count} is cut short`);
    const length = readLength(field, pos);
    const end = pos + 4 + length;
    if (end > field.length) throw corruptFrame(entryId, `message ${i} of ${count} is cut short`);
    out[i] = decodeMessageAt(field, pos + 4, end, values);
    pos = end;
  }
  if (pos !== field.length) throw corruptFrame(entryId, "bytes after its last message");
  return out;
}

/**
 * A frame's u32 LE length at `at` (its count, or a message's length), read byte by byte:
 * Buffer#readUInt32LE checks its arguments on every call, and this runs once per message (the
 * callers check the bounds).
 */
export function readLength(bytes: Buffer, at: number): number {
  return ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)) + (bytes[at + 3] as number) * 0x1000000;
}

/** Writes a frame's u32 LE length at `at`, byte by byte (as {@link readLength} reads it). */
function writeLength(bytes: Buffer, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

function corruptFrame(entryId: string, why: string): BufferError {
  return new BufferError("BUFFER_CORRUPT_ENTRY", `framed entry ${entryId} is corrupt (${why}); something other than Weir wrote to its stream`);
}
