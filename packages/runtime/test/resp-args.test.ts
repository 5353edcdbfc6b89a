import type { Message } from "@weir/actors";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage } from "../src/buffer/redis/encoding.js";
import { frameSizeBound } from "../src/buffer/redis/frames.js";
import { RESP_HEADROOM, RespArgs } from "../src/buffer/redis/resp-args.js";

/** Reads back the bulk strings RespArgs wrote (RESP: `$<len>\r\n<bytes>\r\n`, no leading zeros). */
function bulkStrings(args: RespArgs): Buffer[] {
  const out: Buffer[] = [];
  const buffer = args.buffer;
  let pos = RESP_HEADROOM;
  while (pos < args.end) {
    expect(buffer[pos]).toBe(36);
    const crlf = buffer.indexOf("\r\n", pos, "latin1");
    const digits = buffer.toString("latin1", pos + 1, crlf);
    expect(digits).toMatch(/^(0|[1-9][0-9]*)$/);
    const length = Number(digits);
    out.push(buffer.subarray(crlf + 2, crlf + 2 + length));
    expect(buffer.toString("latin1", crlf + 2 + length, crlf + 4 + length)).toBe("\r\n");
    pos = crlf + 4 + length;
  }
  expect(pos).toBe(args.end);
  return out;
}

const message = (id: string, value: Uint8Array, keys: string[] = [], headers: Record<string, string> = {}): Message => ({ id, keys, value, eventTime: 1_700_000_000_123.5, headers });

describe("RespArgs", () => {
  it("writes strings, numbers and messages as RESP bulk strings, exactly sized", () => {
    // ASCII, an ASCII start then more (the byte-by-byte path starts over), either side of its 64-unit limit.
    const texts = ["", "m", "abcd", "gen-0-12345", "é", "key-é", "a".repeat(63) + "ü", "日本語のキー", "x".repeat(40), "z".repeat(64), "w".repeat(65), "😀".repeat(30), "y".repeat(400)];
    const messages = [
      message("gen-1", new Uint8Array(0)),
      message("a", new Uint8Array(100).fill(7), ["k1", "ключ"], { h: "v", "é": "日本" }),
      message("id-".repeat(50), new Uint8Array(2000).fill(1)),
      message("b", new Uint8Array(5).fill(2)),
      // Bound 122 bytes (3 digits reserved), encoded 98 (2 digits): the bytes move back by one.
      message("abcdef", new Uint8Array(80).fill(3)),
    ];
    let bound = RespArgs.bulkBound(20) * 3;
    for (const text of texts) bound += RespArgs.stringBound(text);
    for (const m of messages) bound += RespArgs.messageBound(m);
    const args = new RespArgs(bound);
    for (const text of texts) args.string(text);
    args.number(0);
    args.number(30_000);
    args.number(600_000);
    for (const m of messages) args.message(m);
    expect(args.count).toBe(texts.length + 3 + messages.length);
    const read = bulkStrings(args);
    expect(read.slice(0, texts.length).map((b) => b.toString("utf8"))).toEqual(texts);
    expect(read.slice(texts.length, texts.length + 3).map((b) => b.toString("latin1"))).toEqual(["0", "30000", "600000"]);
    const encoded = read.slice(texts.length + 3);
    messages.forEach((m, i) => {
      expect(Buffer.compare(encoded[i] as Buffer, encodeMessage(m))).toBe(0);
      const back = decodeMessage(encoded[i] as Buffer);
      expect(back.id).toBe(m.id);
      expect([...back.value]).toEqual([...m.value]);
    });
  });

  it("writes a frame's ids copied from the frame, as string() writes them", () => {
    // Ids either side of the one-byte varint (43 units), of 10 and 100 bytes (header digits), past
    // 32 bytes (copied with copyWithin), non-ASCII, empty; values whose frame bound has more digits
    // than the frame (the frame moves back before its ids are copied).
    const ids = ["", "a", "gen-0-12345", "é-1", "日本語-2", "x".repeat(42), "y".repeat(43), "z".repeat(99), "w".repeat(100), "😀".repeat(40), "v".repeat(500)];
    // One id alone: frame bound 122 bytes (3 digits), frame 80 (2 digits).
    const cases: [string[], number][] = [[ids, 0], [ids, 30], [ids, 3_000], [["é".repeat(30)], 0]];
    for (const [caseIds, valueLength] of cases) {
      const batch = caseIds.map((id, i) => message(id, new Uint8Array(valueLength).fill(i), i % 2 === 0 ? [] : ["k"], i % 3 === 0 ? {} : { h: "v" }));
      let bound = RespArgs.bulkBound(frameSizeBound(batch));
      for (const m of batch) bound += RespArgs.stringBound(m.id);
      const copied = new RespArgs(bound);
      copied.frame(batch);
      copied.idsOfFrame();
      const encoded = new RespArgs(bound);
      encoded.frame(batch);
      for (const m of batch) encoded.string(m.id);
      expect(copied.count).toBe(1 + caseIds.length);
      expect(Buffer.compare(copied.buffer.subarray(RESP_HEADROOM, copied.end), encoded.buffer.subarray(RESP_HEADROOM, encoded.end))).toBe(0);
      expect(bulkStrings(copied).slice(1).map((b) => b.toString("utf8"))).toEqual(caseIds);
    }
  });

  it("writes single-byte strings (entry ids) as they are", () => {
    const idsIn = ["0-0", "1700000000123-0", "1700000000123-18446744073709551615", "9".repeat(20) + "-1"];
    let bound = 0;
    for (const id of idsIn) bound += RespArgs.bulkBound(id.length);
    const args = new RespArgs(bound);
    for (const id of idsIn) args.latin1(id);
    expect(bulkStrings(args).map((b) => b.toString("latin1"))).toEqual(idsIn);
  });
});
