/**
 * A script call's arguments written straight into the bytes Redis reads (RESP bulk strings), for
 * the calls that carry one or two arguments per message: the buffer's write (an id and an encoded
 * message each) and its ack (an entry id each). Issue 12: through ioredis, each such argument cost
 * a string concatenation, two `Buffer.byteLength` calls, a push into a list and a copy (its
 * `Command.toWritable`), after an argument array, a spread and a `flat()` of them; the message
 * itself was first encoded into a view of its own. Here an argument costs its bytes.
 *
 * ```
 *   [headroom for "*<n>\r\n$7\r\nevalsha\r\n$40\r\n<sha>\r\n"] $<len>\r\n<bytes>\r\n  $<len>\r\n…
 * ```
 *
 * A bulk string's length comes before its bytes, and Redis refuses a length with leading zeros; so
 * each argument reserves the digits of its size bound, writes its bytes, and when the real length
 * has fewer digits moves the bytes back over the gap (rare: the bound and the size usually have as
 * many digits).
 */
import type { Message } from "@weir/actors";
import { ID_LENGTH_AT, messageSizeBound, readVarint, writeMessage, type Cursor } from "./encoding.js";
import { frameSizeBound, readLength, writeFrame } from "./frames.js";

/** Room kept before the arguments for the array header, the command's name and the script's sha (script-command.ts). */
export const RESP_HEADROOM = 96;

export class RespArgs {
  /** The bytes: {@link RESP_HEADROOM} free bytes, then the arguments written so far. */
  readonly buffer: Buffer;
  private pos = RESP_HEADROOM;
  private args = 0;

  /** @param bound an upper bound of the bytes the arguments take ({@link RespArgs.bulkBound} each). */
  constructor(bound: number) {
    this.buffer = Buffer.allocUnsafe(RESP_HEADROOM + bound);
  }

  /** Bytes a bulk string of at most `bytes` bytes takes, framing included (`$`, ≤ 10 digits, two CRLFs). */
  static bulkBound(bytes: number): number {
    return bytes + 16;
  }

  /** Bytes a string argument takes at most (UTF-8 needs at most 3 bytes per UTF-16 unit). */
  static stringBound(text: string): number {
    return RespArgs.bulkBound(text.length * 3);
  }

  /** Bytes a message argument takes at most. */
  static messageBound(message: Message): number {
    return RespArgs.bulkBound(messageSizeBound(message));
  }

  /** How many arguments were written. */
  get count(): number {
    return this.args;
  }

  /** Where the arguments written so far end in {@link RespArgs.buffer} (they start at {@link RESP_HEADROOM}). */
  get end(): number {
    return this.pos;
  }

  /** A string argument (UTF-8). */
  string(text: string): void {
    if (text.length <= ASCII_LOOP_MAX && this.shortAscii(text)) return;
    const start = this.open(text.length * 3);
    this.close(start, start + this.buffer.write(text, start, "utf8"));
  }

  /**
   * Writes `text` (at most {@link ASCII_LOOP_MAX} units) when it is ASCII, and says whether it
   * was. Message ids, one per message of a write: byte by byte, cheaper than Buffer#write's call
   * for a dozen bytes, and its length (one or two digits) is known, so nothing is reserved or
   * moved. Anything else is left for Buffer#write (nothing written here counts).
   */
  private shortAscii(text: string): boolean {
    const length = text.length;
    const buffer = this.buffer;
    // The header goes first: past `pos`, it is scratch until `endBulk` takes it.
    const start = this.bulkHeader(length);
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return false;
      buffer[start + i] = c;
    }
    this.endBulk(start, length);
    return true;
  }

  /**
   * A string argument of single-byte characters only (U+0000–U+00FF, e.g. a stream entry id):
   * its length is known, so nothing is reserved or moved. Take {@link RespArgs.bulkBound} of its length.
   */
  latin1(text: string): void {
    const start = this.open(text.length);
    this.close(start, start + this.buffer.write(text, start, "latin1"));
  }

  /** A number argument, as Redis reads numbers: its decimal digits. */
  number(value: number): void {
    this.string(String(value));
  }

  /** A message argument, encoded as encoding.ts stores it. */
  message(message: Message): void {
    const start = this.open(messageSizeBound(message));
    this.close(start, writeMessage(this.buffer, start, message));
  }

  /**
   * One argument holding the frame of `messages` (frames.ts); take {@link RespArgs.bulkBound} of
   * `frameSizeBound`. `bound`: that `frameSizeBound`, when the caller has it already (it walks
   * every message).
   */
  frame(messages: readonly Message[], bound = frameSizeBound(messages)): void {
    const start = this.open(bound);
    const end = writeFrame(this.buffer, start, messages);
    this.close(start, end);
    this.lastFrame = this.pos - 2 - (end - start);
  }

  /**
   * One argument per message of the frame written last ({@link RespArgs.frame}), holding its id:
   * the id's UTF-8 bytes copied from the frame, where they were just encoded (issue 12: not
   * encoded a second time). Take {@link RespArgs.stringBound} of each id.
   */
  idsOfFrame(): void {
    if (this.lastFrame < 0) throw new Error("RespArgs.idsOfFrame: no frame written yet");
    const buffer = this.buffer;
    const count = readLength(buffer, this.lastFrame);
    // One cursor for the whole frame (its bytes end before the argument's CRLF).
    const cursor: Cursor = { pos: 0, end: this.pos - 2, start: this.lastFrame };
    let at = this.lastFrame + 4;
    for (let i = 0; i < count; i++) {
      const next = at + 4 + readLength(buffer, at);
      cursor.pos = at + 4 + ID_LENGTH_AT;
      const length = readVarint(buffer, cursor);
      this.copied(cursor.pos, length);
      at = next;
    }
  }

  /** A bulk string argument holding `length` bytes of {@link RespArgs.buffer} from `from` (written earlier). */
  private copied(from: number, length: number): void {
    const buffer = this.buffer;
    const start = this.bulkHeader(length);
    // A dozen bytes cost less by hand than copyWithin's call.
    if (length <= 32) for (let i = 0; i < length; i++) buffer[start + i] = buffer[from + i] as number;
    else buffer.copyWithin(start, from, from + length);
    this.endBulk(start, length);
  }

  /**
   * Writes at `pos` the header of a bulk string of exactly `length` bytes (`$`, its digits, CRLF),
   * without moving `pos`; returns where its bytes go. {@link RespArgs.endBulk} completes it.
   */
  private bulkHeader(length: number): number {
    const buffer = this.buffer;
    const at = this.pos;
    const digits = length < 10 ? 1 : length < 100 ? 2 : digitCount(length);
    buffer[at] = 36; // "$"
    writeDigits(buffer, at + 1, length, digits);
    const start = at + 1 + digits + 2;
    buffer[start - 2] = 13;
    buffer[start - 1] = 10;
    return start;
  }

  /** Ends the bulk string whose `length` bytes start at `start`: its CRLF, and one argument more. */
  private endBulk(start: number, length: number): void {
    this.buffer[start + length] = 13;
    this.buffer[start + length + 1] = 10;
    this.pos = start + length + 2;
    this.args += 1;
  }

  /** Reserves the header of a bulk string of at most `bound` bytes; returns where its bytes start. */
  private open(bound: number): number {
    this.headerAt = this.pos;
    this.buffer[this.pos] = 36; // "$"
    this.pos += 1 + digitCount(bound) + 2;
    return this.pos;
  }

  /** Fills the header of the bulk string whose bytes are `start … end`, and its CRLFs. */
  private close(start: number, end: number): void {
    const buffer = this.buffer;
    const length = end - start;
    const digits = digitCount(length);
    const reserved = start - 2 - (this.headerAt + 1);
    let bytesEnd = end;
    if (digits < reserved) {
      // Fewer digits than the bound had: move the bytes back over the gap.
      const shift = reserved - digits;
      buffer.copyWithin(start - shift, start, end);
      bytesEnd = end - shift;
    }
    writeDigits(buffer, this.headerAt + 1, length, digits);
    const crlf = this.headerAt + 1 + digits;
    buffer[crlf] = 13;
    buffer[crlf + 1] = 10;
    this.endBulk(bytesEnd - length, length);
  }

  private headerAt = 0;
  /** Where the frame written last starts in {@link RespArgs.buffer} (its bytes, after the header). */
  private lastFrame = -1;
}

/** Strings up to this many UTF-16 units are tried as ASCII first (two digits of length at most). */
const ASCII_LOOP_MAX = 64;

function digitCount(value: number): number {
  let digits = 1;
  while (value >= 10) {
    value = Math.floor(value / 10);
    digits++;
  }
  return digits;
}

function writeDigits(buffer: Buffer, at: number, value: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    buffer[i] = 48 + (value % 10);
    value = Math.floor(value / 10);
  }
}
