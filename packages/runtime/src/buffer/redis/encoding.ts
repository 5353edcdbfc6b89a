/**
 * How a {@link Message} is stored in a buffer stream entry: one field, `m`, whose value is a
 * small binary header followed by the message value, byte for byte.
 *
 * ```
 *   u8      format version (1)
 *   f64 LE  eventTime (ms since the Unix epoch)
 *   varint  id length     │ id (UTF-8)
 *   varint  key count     │ per key:    varint length │ key (UTF-8)
 *   varint  header count  │ per header: varint length │ name (UTF-8) │ varint length │ value (UTF-8)
 *   …       value (the rest of the field, any bytes)
 * ```
 *
 * One field instead of one per property keeps each XADD and each read small (Redis stores field
 * names per entry unless they repeat the stream's master entry), and no JSON or base64 touches
 * the value, so binary values round-trip at no cost. Varints are LEB128 (7 bits per byte).
 */
import type { Message } from "@weir/actors";
import { BufferError } from "../buffer-error.js";
import type { WatermarkMark } from "../partitioned-buffer.js";

/** The stream entry field holding the encoded message. */
export const ENTRY_FIELD = "m";
/** The first byte of every encoded message; a reader refuses any other. */
export const ENCODING_VERSION = 1;
/** Where an encoded message's id starts: its varint length, after the version byte and eventTime. */
export const ID_LENGTH_AT = 9;

// Shared by every decoded message without keys or headers (messages are read-only).
const NO_KEYS = Object.freeze([]) as unknown as string[];
const NO_HEADERS = Object.freeze({}) as Record<string, string>;

/** Strings this short (in UTF-16 units) take at most 3 × 42 = 126 UTF-8 bytes: a 1-byte length. */
const SHORT_STRING = 43;

/**
 * Encodes a batch. The results are views into one allocation, one per message, so a batch costs
 * one buffer allocation however many messages it holds.
 */
export function encodeMessages(messages: readonly Message[]): Buffer[] {
  let bound = 0;
  for (const message of messages) bound += messageSizeBound(message);
  const buffer = Buffer.allocUnsafe(bound);
  const out: Buffer[] = new Array(messages.length);
  let pos = 0;
  for (let i = 0; i < messages.length; i++) {
    const start = pos;
    pos = writeMessage(buffer, pos, messages[i] as Message);
    out[i] = buffer.subarray(start, pos);
  }
  return out;
}

/** Encodes one message. */
export function encodeMessage(message: Message): Buffer {
  const buffer = Buffer.allocUnsafe(messageSizeBound(message));
  return buffer.subarray(0, writeMessage(buffer, 0, message));
}

/**
 * Decodes what {@link encodeMessage} wrote. The value is copied out of `field` into a slab
 * shared with the values decoded around it (see {@link allocValue}): a message keeps at most one
 * 8 KiB slab alive, never the whole network chunk it arrived in, and a batch costs no memory
 * allocation per message beyond the value's view.
 *
 * @throws {BufferError} `BUFFER_CORRUPT_ENTRY` for bytes that are not an encoded message.
 */
export function decodeMessage(field: Buffer): Message {
  return decodeMessageAt(field, 0, field.length);
}

/**
 * Decodes the message encoded in `field` from `start` to `end`, as {@link decodeMessage}: a
 * frame's messages are decoded in place, without a view of each (issue 12: one allocation less
 * per message read). `values`, when given, is a copy of `field` made for the values of the
 * messages decoded from it: the value is then a view of it (no copy of its own).
 *
 * @throws {BufferError} `BUFFER_CORRUPT_ENTRY` for bytes that are not an encoded message.
 */
export function decodeMessageAt(field: Buffer, start: number, end: number, values?: Uint8Array): Message {
  if (end - start < 9 || field[start] !== ENCODING_VERSION) throw corrupt(end - start, "unknown format version");
  const eventTime = field.readDoubleLE(start + 1);
  const cursor: Cursor = { pos: start + ID_LENGTH_AT, end, start };
  const id = readString(field, cursor);
  const keyCount = readVarint(field, cursor);
  const keys: string[] = keyCount === 0 ? NO_KEYS : new Array(keyCount);
  for (let i = 0; i < keyCount; i++) keys[i] = readString(field, cursor);
  const headerCount = readVarint(field, cursor);
  let headers: Record<string, string> = NO_HEADERS;
  if (headerCount > 0) {
    headers = {};
    for (let i = 0; i < headerCount; i++) {
      const name = readString(field, cursor);
      headers[name] = readString(field, cursor);
    }
  }
  return { id, keys, value: valueOf(field, cursor.pos, end, values), eventTime, headers };
}

/** The value at `start … end` of `field`: a view of `values` (a copy of `field`) when given, else copied into a slab. */
function valueOf(field: Buffer, start: number, end: number, values: Uint8Array | undefined): Uint8Array {
  if (values !== undefined) return new Uint8Array(values.buffer, values.byteOffset + start, end - start);
  const value = allocValue(end - start);
  field.copy(value, 0, start, end);
  return value;
}

/** Where a decode is in the message it reads (`start` … `end` of its buffer). */
export interface Cursor {
  pos: number;
  readonly end: number;
  readonly start: number;
}

const SLAB_BYTES = 8 * 1024;
/** Values larger than this get an allocation of their own. */
const SLAB_VALUE_MAX = 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A `Uint8Array` of `length` bytes for a decoded value: a view into the current 8 KiB slab
 * (like Node's `Buffer` pool, but a plain `Uint8Array`, as `Message.value` is), or its own
 * buffer for a large value. A separate `ArrayBuffer` per small value costs far more to
 * allocate and to collect than the value itself.
 */
function allocValue(length: number): Uint8Array {
  if (length > SLAB_VALUE_MAX) return new Uint8Array(length);
  if (slabUsed + length > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const value = new Uint8Array(slab, slabUsed, length);
  // Keep views 8-byte aligned, as Node's pool does.
  slabUsed += (length + 7) & ~7;
  return value;
}

/** An upper bound of a message's encoded size: UTF-8 never needs more than 3 bytes per UTF-16 unit. */
export function messageSizeBound(message: Message): number {
  let size = 1 + 8 + 5 + message.id.length * 3 + 5 + 5 + message.value.length;
  // An index loop, not for…of: this runs twice per message written, often before V8 optimizes the
  // caller, and an unoptimized for…of allocates an iterator and a result object per step.
  const keys = message.keys;
  for (let i = 0; i < keys.length; i++) size += 5 + (keys[i] as string).length * 3;
  const headers = message.headers;
  for (const name in headers) size += 10 + (name.length + (headers[name] as string).length) * 3;
  return size;
}

/** Writes `message` encoded at `start` (room for {@link messageSizeBound} bytes); returns where it ends. */
export function writeMessage(buffer: Buffer, start: number, message: Message): number {
  buffer[start] = ENCODING_VERSION;
  buffer.writeDoubleLE(message.eventTime, start + 1);
  let pos = writeString(buffer, start + ID_LENGTH_AT, message.id);
  const keys = message.keys;
  pos = writeVarint(buffer, pos, keys.length);
  for (let i = 0; i < keys.length; i++) pos = writeString(buffer, pos, keys[i] as string);
  const headers = message.headers;
  let headerCount = 0;
  for (const _ in headers) headerCount++;
  pos = writeVarint(buffer, pos, headerCount);
  for (const name in headers) {
    pos = writeString(buffer, pos, name);
    pos = writeString(buffer, pos, headers[name] as string);
  }
  const value = message.value;
  buffer.set(value, pos);
  return pos + value.length;
}

function writeString(buffer: Buffer, pos: number, text: string): number {
  if (text.length < SHORT_STRING) {
    // Write the text first, then its length in the byte reserved before it: one pass over the text.
    // ASCII (ids, keys) byte by byte: about half of what Buffer#write's call costs for a dozen bytes.
    const length = text.length;
    let i = 0;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      buffer[pos + 1 + i] = c;
    }
    const bytes = i === length ? length : buffer.write(text, pos + 1, "utf8");
    buffer[pos] = bytes;
    return pos + 1 + bytes;
  }
  const bytes = Buffer.byteLength(text, "utf8");
  pos = writeVarint(buffer, pos, bytes);
  return pos + buffer.write(text, pos, "utf8");
}

function writeVarint(buffer: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buffer[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[pos++] = value;
  return pos;
}

export function readVarint(buffer: Buffer, cursor: Cursor): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (cursor.pos >= cursor.end || shift > 28) throw corrupt(cursor.end - cursor.start, "bad length");
    const byte = buffer[cursor.pos++] as number;
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return value >>> 0;
    shift += 7;
  }
}

function readString(buffer: Buffer, cursor: Cursor): string {
  const length = readVarint(buffer, cursor);
  const start = cursor.pos;
  const end = start + length;
  if (end > cursor.end) throw corrupt(cursor.end - cursor.start, "truncated string");
  cursor.pos = end;
  return buffer.toString("utf8", start, end);
}

function corrupt(bytes: number, why: string): BufferError {
  return new BufferError(
    "BUFFER_CORRUPT_ENTRY",
    `a buffer stream entry (${bytes} bytes) cannot be decoded: ${why}; it was not written by this version of Weir — check that every process of the pipeline runs the same version and that nothing else writes to Weir's keys`,
  );
}

/**
 * The stream entry field of a watermark mark (issue #13), in place of {@link ENTRY_FIELD}: its
 * value is the JSON `{"w":writer,"p":processor,"t":watermark}`. Marks are few (about one per
 * writing process per second), so a readable encoding costs nothing that matters.
 */
export const MARK_FIELD = "w";

/** Encodes a watermark mark as the value of its {@link MARK_FIELD}. */
export function encodeMark(mark: WatermarkMark): string {
  return JSON.stringify({ w: mark.writer, p: mark.processor, t: mark.watermark });
}

/**
 * Decodes what {@link encodeMark} wrote.
 *
 * @throws {BufferError} `BUFFER_CORRUPT_ENTRY` for a value that is not an encoded mark.
 */
export function decodeMark(field: Buffer): WatermarkMark {
  let parsed: unknown;
  try {
    parsed = JSON.parse(field.toString("utf8"));
  } catch {
    throw corrupt(field.length, "a watermark mark that is not JSON");
  }
  const { w, p, t } = (parsed ?? {}) as { w?: unknown; p?: unknown; t?: unknown };
  if (typeof w !== "string" || typeof p !== "string" || typeof t !== "number") throw corrupt(field.length, "a watermark mark without writer, processor or watermark");
  return { writer: w, processor: p, watermark: t };
}
