import { Redis } from "ioredis";
import type { Message } from "@weir/actors";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisConnection, RedisStreamBuffer } from "../src/buffer/index.js";
import type { BufferOptions } from "../src/buffer/index.js";
import { decodeFrame, frameOffset, frameOffsets, frameSizeBound, writeFrame } from "../src/buffer/redis/frames.js";
import { describeBufferConformance, expectBufferError, ids, messages, offsets } from "./buffer-conformance.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe("frames (layout)", () => {
  // ASCII and not (an ASCII start, then more): the encoder's byte-by-byte path and its fallback.
  const batch = messages("p", 3).map((message, i) => ({ ...message, keys: [`k${i}`, `key-é${i}`, "🔑"], headers: { h: `${i}`, "ü": "ö" } }));
  const frameOf = (): Buffer => {
    const bytes = Buffer.alloc(frameSizeBound(batch));
    return bytes.subarray(0, writeFrame(bytes, 0, batch));
  };

  it("decodes each message in place, within its own bytes, and copies values out of the frame", () => {
    const frame = frameOf();
    const decoded = decodeFrame(frame, "1-0");
    expect(decoded).toEqual(batch);
    frame.fill(0);
    expect(decoded.map((m) => [...m.value])).toEqual(batch.map((m) => [...m.value]));
    // A message whose length stops inside its id is corrupt; nothing is read from the next one.
    const cut = frameOf();
    cut.writeUInt32LE(12, 4);
    expect(() => decodeFrame(cut, "1-0")).toThrow(expect.objectContaining({ code: "BUFFER_CORRUPT_ENTRY" }));
  });

  it("gives a frame's values one copy of the frame to share, and a frame over 64 KiB a copy per value", () => {
    const small = frameOf();
    const shared = decodeFrame(small, "1-0");
    expect(new Set(shared.map((m) => m.value.buffer)).size).toBe(1);
    expect(shared[0]!.value.buffer).not.toBe(small.buffer);
    // 3 × 30,000 bytes of values: each value copied apart, none a view of the field.
    const large = messages("q", 3).map((message, i) => ({ ...message, value: new Uint8Array(30_000).fill(i + 1) }));
    const bytes = Buffer.alloc(frameSizeBound(large));
    const field = bytes.subarray(0, writeFrame(bytes, 0, large));
    expect(field.length).toBeGreaterThan(64 * 1024);
    const decoded = decodeFrame(field, "2-0");
    field.fill(0);
    expect(decoded).toEqual(large);
    expect(new Set(decoded.map((m) => m.value.buffer)).size).toBe(3);
  });

  it("builds offsets <entry>/<index>/<n>, whatever sizes came before", () => {
    expect(frameOffsets("5-1", 3)).toEqual(["5-1/0/3", "5-1/1/3", "5-1/2/3"]);
    expect(frameOffsets("9-2", 12)).toEqual(Array.from({ length: 12 }, (_, i) => frameOffset("9-2", i, 12)));
    for (let n = 1; n <= 80; n++) frameOffsets("1-0", n);
    expect(frameOffsets("7-0", 2)).toEqual(["7-0/0/2", "7-0/1/2"]);
  });
});

// Issue 12: one stream entry per partition-write (frames.ts). The whole contract holds on it.
describe.skipIf(url === undefined)("RedisStreamBuffer, framed", () => {
  const redisUrl = url as string;
  const filePrefix = uniquePrefix("wf");
  let shared: RedisConnection;

  beforeAll(() => {
    shared = new RedisConnection({ url: redisUrl, name: filePrefix });
  });
  afterAll(async () => {
    await shared.close();
    await deleteKeys(redisUrl, `${filePrefix}*`);
  });

  describeBufferConformance(
    "RedisStreamBuffer (framed)",
    async (options) => new RedisStreamBuffer({ ...options, connection: shared, keyPrefix: filePrefix, blockSliceMs: 100, framed: true }),
    () => deleteKeys(redisUrl, `${filePrefix}:*`),
    { framedEntries: true },
  );
});

describe.skipIf(url === undefined)("RedisStreamBuffer, framed entries", () => {
  const redisUrl = url as string;
  const opened: Array<{ close(): Promise<void> }> = [];
  let prefix = "";

  const open = (overrides: Partial<BufferOptions> & { framed?: boolean; maxDeliveries?: number } = {}): RedisStreamBuffer => {
    const buffer = new RedisStreamBuffer({
      name: "frames.v",
      partitions: 1,
      maxLength: 1_000,
      usageLimit: 1,
      upstreams: [],
      connection: { url: redisUrl },
      keyPrefix: prefix,
      blockSliceMs: 50,
      framed: true,
      ...overrides,
    });
    opened.push(buffer);
    return buffer;
  };
  const admin = (): Redis => {
    const client = new Redis(redisUrl);
    opened.push({ close: async () => void client.disconnect() });
    return client;
  };

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((item) => item.close()));
    await deleteKeys(redisUrl, `${prefix}:*`);
  });

  const test = (name: string, body: () => Promise<void>) =>
    it(name, async () => {
      prefix = uniquePrefix("wg");
      await body();
    });

  test("refuses malformed framed offsets before acking anything", async () => {
    const buffer = open();
    await buffer.write(0, messages("a", 2));
    const batch = await buffer.read(0, { consumer: "c", max: 2, timeoutMs: 0 });
    for (const bad of ["1-0/5/3", "1-0/x/3", "1-0/1", "1-0//3", "1-0/1/", "x-0/0/1", "1-0/0/1/2"]) {
      await expectBufferError(buffer.ack(0, [offsets(batch)[0]!, bad]), "BUFFER_INVALID_OFFSET");
    }
    expect(await buffer.ack(0, offsets(batch))).toBe(2);
  });

  test("counts each message once however an ack orders or repeats offsets of several frames", async () => {
    const buffer = open();
    await buffer.write(0, messages("a", 3));
    await buffer.write(0, messages("b", 3));
    const first = offsets(await buffer.read(0, { consumer: "c", max: 3, timeoutMs: 0 }));
    const second = offsets(await buffer.read(0, { consumer: "c", max: 3, timeoutMs: 0 }));
    // Out of order, interleaved, repeated: a run per consecutive stretch, repeats counted 0.
    const mixed = [first[2]!, second[0]!, first[0]!, first[0]!, second[1]!, first[1]!, first[2]!];
    expect(await buffer.ack(0, mixed)).toBe(5);
    // Length comes back per entry: the second frame keeps its 3 until its last message is acked.
    expect(await buffer.usage(0)).toMatchObject({ length: 3, pending: 1 });
    expect(await buffer.ack(0, [second[1]!, second[2]!, second[0]!])).toBe(1);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
    expect(await buffer.ack(0, [...first, ...second])).toBe(0);
  });

  test("acks offsets equal to the handed-out ones but built anew as the same messages", async () => {
    const buffer = open();
    await buffer.write(0, messages("a", 4));
    const handed = offsets(await buffer.read(0, { consumer: "c", max: 4, timeoutMs: 0 }));
    // Copies (other string objects), then a handed-out one after a gap: each is parsed or matched alike.
    const copies = handed.map((offset) => [...offset].join(""));
    expect(await buffer.ack(0, [copies[0]!, handed[1]!, copies[3]!])).toBe(3);
    expect((await buffer.usage(0)).pending).toBe(1);
    expect(await buffer.ack(0, [copies[2]!, handed[3]!])).toBe(1);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });

  test("writes a partition-write as one entry and serves it across reads smaller than it", async () => {
    const buffer = open();
    const redis = admin();
    expect(await buffer.write(0, messages("a", 10))).toEqual({ written: 10 });
    expect(await redis.xlen(buffer.keysOf(0).stream)).toBe(1);
    const first = await buffer.read(0, { consumer: "c", max: 4, timeoutMs: 0 });
    const second = await buffer.read(0, { consumer: "c", max: 4, timeoutMs: 0 });
    const third = await buffer.read(0, { consumer: "c", max: 4, timeoutMs: 0 });
    expect([ids(first), ids(second), ids(third)]).toEqual([
      ["a0", "a1", "a2", "a3"],
      ["a4", "a5", "a6", "a7"],
      ["a8", "a9"],
    ]);
    expect(new Set([...offsets(first), ...offsets(second), ...offsets(third)]).size).toBe(10);
    // One delivery of one entry, however many reads served it.
    const pending = await buffer.pendingDeliveries(0, { max: 10 });
    expect(pending.map((entry) => entry.deliveries)).toEqual([1]);
    expect((await buffer.read(0, { consumer: "c", max: 4, timeoutMs: 0 })).entries).toEqual([]);
  });

  test("acks an entry only once every message of it is acked", async () => {
    const buffer = open();
    const redis = admin();
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 6));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(await buffer.ack(0, offsets(batch).slice(0, 4))).toBe(4);
    expect((await buffer.usage(0)).length).toBe(6);
    expect(await redis.xlen(stream)).toBe(1);
    expect((await buffer.pendingDeliveries(0, { max: 10 })).length).toBe(1);
    // Acked twice counts 0; the rest completes the entry, which goes.
    expect(await buffer.ack(0, offsets(batch).slice(2))).toBe(2);
    expect(await redis.xlen(stream)).toBe(0);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });

  test("counts messages, not entries, for usage and capacity", async () => {
    const buffer = open({ maxLength: 12 });
    expect(await buffer.write(0, messages("a", 10))).toEqual({ written: 10 });
    expect(await buffer.usage(0)).toMatchObject({ length: 10, isFull: false });
    // Two fit: the frame written is cut in the script to the prefix that fits.
    expect(await buffer.write(0, messages("b", 5))).toEqual({ written: 2 });
    expect(await buffer.usage(0)).toMatchObject({ length: 12, isFull: true });
    // b0 and b1 are in (deduped, count as written), b2 finds no room.
    expect(await buffer.write(0, messages("b", 5))).toEqual({ written: 2, deduped: 2 });
    const batch = await buffer.read(0, { consumer: "c", max: 100, timeoutMs: 0 });
    expect(ids(batch)).toEqual([...ids({ entries: messages("a", 10).map((message) => ({ offset: "", message })), endOfStream: false }), "b0", "b1"]);
    await buffer.ack(0, offsets(batch));
    expect((await buffer.usage(0)).length).toBe(0);
  });

  test("writes once what a redelivery sends again with another grouping, and counts the duplicates", async () => {
    const buffer = open();
    const all = messages("m", 6);
    expect(await buffer.write(0, all.slice(0, 4))).toEqual({ written: 4 });
    // After a crash, the upstream re-sends m2…m5 in one batch: m2 and m3 are skipped in the script.
    expect(await buffer.write(0, all.slice(2, 6))).toEqual({ written: 4, deduped: 2 });
    // A batch with duplicates between new ones: the frame is rebuilt from the new ones only.
    const mixed = [...messages("n", 1), all[0]!, ...messages("o", 1), all[5]!, ...messages("p", 1)];
    expect(await buffer.write(0, mixed)).toEqual({ written: 5, deduped: 2 });
    expect(ids(await buffer.read(0, { consumer: "c", max: 100, timeoutMs: 0 }))).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "n0", "o0", "p0"]);
    expect((await buffer.usage(0)).length).toBe(9);
  });

  test("writes an id repeated within one batch once, whatever the dedup sets held before", async () => {
    const buffer = open();
    const [a, b, c] = messages("r", 3) as [Message, Message, Message];
    // Nothing known yet: the script's one SADD finds the repeat, and the frame is rebuilt without it.
    expect(await buffer.write(0, [a, b, a, c, b])).toEqual({ written: 5, deduped: 2 });
    // Known and repeated at once.
    expect(await buffer.write(0, [...messages("s", 1), c, c])).toEqual({ written: 3, deduped: 2 });
    expect(ids(await buffer.read(0, { consumer: "c", max: 100, timeoutMs: 0 }))).toEqual(["r0", "r1", "r2", "s0"]);
    expect((await buffer.usage(0)).length).toBe(4);
  });

  test("a crash after part of a frame was handed out redelivers the frame whole to the restarted consumer", async () => {
    const first = open();
    await first.write(0, messages("a", 8));
    await first.read(0, { consumer: "c", max: 3, timeoutMs: 0 });
    await first.close(); // crash: a0…a2 were handed out, nothing acked
    const restarted = open();
    const again = await restarted.read(0, { consumer: "c", max: 5, timeoutMs: 0, fromPending: true });
    expect(ids(again)).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    // Paging on from inside the frame: the rest is served without another delivery.
    const rest = await restarted.read(0, { consumer: "c", max: 5, timeoutMs: 0, fromPending: true, after: offsets(again)[4]! });
    expect(ids(rest)).toEqual(["a5", "a6", "a7"]);
    expect((await restarted.pendingDeliveries(0, { max: 10 })).map((entry) => entry.deliveries)).toEqual([2]);
    await restarted.ack(0, [...offsets(again), ...offsets(rest)]);
    expect((await restarted.usage(0)).length).toBe(0);
  });

  test("paging pending entries after a frame's last message does not deliver that frame again", async () => {
    const buffer = open();
    await buffer.write(0, messages("a", 3));
    await buffer.write(0, messages("b", 3));
    const read = await buffer.read(0, { consumer: "c", max: 6, timeoutMs: 0 });
    const other = open();
    const first = await other.read(0, { consumer: "c", max: 3, maxEntries: 1, timeoutMs: 0, fromPending: true });
    const second = await other.read(0, { consumer: "c", max: 3, maxEntries: 1, timeoutMs: 0, fromPending: true, after: offsets(first)[2]! });
    expect([ids(first), ids(second)]).toEqual([
      ["a0", "a1", "a2"],
      ["b0", "b1", "b2"],
    ]);
    // One read as new, one re-read each: a second re-read of the first frame would count a death.
    expect((await other.pendingDeliveries(0, { max: 10 })).map((entry) => entry.deliveries)).toEqual([2, 2]);
    expect(offsets(read)).toEqual([...offsets(first), ...offsets(second)]);
  });

  test("a watermark mark read behind a frame counts only once the frame's carried messages are handed out", async () => {
    const buffer = open({ watermarkWriters: ["up/0"] });
    // A one-message frame first: the mean entry size is 1, so the next read asks for 2 entries.
    await buffer.write(0, messages("w", 1));
    expect(ids(await buffer.read(0, { consumer: "c", max: 1, timeoutMs: 0 }))).toEqual(["w0"]);
    await buffer.write(0, messages("a", 5));
    await buffer.writeWatermark(0, { writer: "up/0", processor: "p1", watermark: 10 });
    const first = await buffer.read(0, { consumer: "c", max: 2, timeoutMs: 0 });
    expect(ids(first)).toEqual(["a0", "a1"]);
    // a2…a4 were written before the mark and are not handed out yet: no watermark 10 now.
    expect(first.watermark).toBeUndefined();
    const rest = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(ids(rest)).toEqual(["a2", "a3", "a4"]);
    expect(rest.watermark).toBe(10);
  });

  test("a frame acked in part keeps its acked prefix across a crash: the restarted consumer gets only the rest", async () => {
    const first = open();
    await first.write(0, messages("a", 6));
    const read = await first.read(0, { consumer: "c", max: 6, timeoutMs: 0 });
    // a0, a1 and a3 acked: the prefix a0…a1 is durable; a3 is redelivered (downstream dedup drops it).
    expect(await first.ack(0, [offsets(read)[0]!, offsets(read)[1]!, offsets(read)[3]!])).toBe(3);
    await first.close();
    const restarted = open();
    const again = await restarted.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true });
    expect(ids(again)).toEqual(["a2", "a3", "a4", "a5"]);
    await restarted.ack(0, offsets(again));
    expect(await restarted.usage(0)).toMatchObject({ length: 0, pending: 0 });
    expect(await admin().hlen(restarted.keysOf(0).frameProgress)).toBe(0);
  });

  test("an ack of part of a frame caps its delivery count one short of maxDeliveries, and the next hand-out from what was kept counts one", async () => {
    const writer = open({ maxDeliveries: 3 });
    await writer.write(0, messages("a", 4));
    await writer.read(0, { consumer: "c", max: 4, timeoutMs: 0 });
    for (let life = 0; life < 3; life++) await open().read(0, { consumer: "c", max: 4, timeoutMs: 0, fromPending: true });
    const buffer = open({ maxDeliveries: 3 });
    // The redelivery guard's isolation: one message at a time.
    const one = await buffer.read(0, { consumer: "c", max: 1, maxEntries: 1, timeoutMs: 0, fromPending: true });
    expect((await buffer.pendingDeliveries(0, { max: 10 })).map((entry) => entry.deliveries)).toEqual([5]);
    await buffer.ack(0, offsets(one));
    expect((await buffer.pendingDeliveries(0, { max: 10 })).map((entry) => [entry.consumer, entry.deliveries])).toEqual([["c", 2]]);
    const next = await buffer.read(0, { consumer: "c", max: 1, maxEntries: 1, timeoutMs: 0, fromPending: true, after: offsets(one)[0]! });
    expect(ids(next)).toEqual(["a1"]);
    expect((await buffer.pendingDeliveries(0, { max: 10 })).map((entry) => entry.deliveries)).toEqual([3]);
  });

  test("a pending re-read that ended on a frame's last message goes on from what it kept, without a second delivery", async () => {
    // Fault trial 10.2: the guard's batch of planned entries ended exactly at a frame's end while
    // the read had taken the next frame too; the next read dropped what was kept and read that
    // frame again (one more delivery, no death), and after one more death its first message
    // went to the fallback as poison.
    const writer = open();
    await writer.write(0, messages("a", 1));
    await writer.write(0, messages("b", 3));
    await writer.write(0, messages("c", 2));
    expect(ids(await writer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 }))).toHaveLength(6);
    const restarted = open();
    const first = await restarted.read(0, { consumer: "c1", max: 4, maxEntries: 3, timeoutMs: 0, fromPending: true });
    expect(ids(first)).toEqual(["a0", "b0", "b1", "b2"]);
    const next = await restarted.read(0, { consumer: "c1", max: 4, maxEntries: 1, timeoutMs: 0, fromPending: true, after: offsets(first).at(-1)! });
    expect(ids(next)).toEqual(["c0", "c1"]);
    // One delivery before the restart, one after: two each.
    expect((await restarted.pendingDeliveries(0, { max: 10 })).map((entry) => entry.deliveries)).toEqual([2, 2, 2]);
  });

  test("a pending re-read after an offset inside a frame, from a fresh object, skips what is before it", async () => {
    const buffer = open();
    await buffer.write(0, messages("a", 6));
    const read = await buffer.read(0, { consumer: "c", max: 6, timeoutMs: 0 });
    const other = open();
    const rest = await other.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true, after: offsets(read)[2]! });
    expect(ids(rest)).toEqual(["a3", "a4", "a5"]);
  });

  test("claims a dead consumer's frame, handing out at most max and the rest on the next read", async () => {
    const dead = open();
    await dead.write(0, messages("a", 10));
    expect(ids(await dead.read(0, { consumer: "dead", max: 3, timeoutMs: 0 }))).toEqual(["a0", "a1", "a2"]);
    await dead.close();
    const alive = open();
    const claimed = await alive.claimIdle(0, "alive", 0, 4);
    expect(ids({ entries: claimed, endOfStream: false })).toEqual(["a0", "a1", "a2", "a3"]);
    const next = await alive.read(0, { consumer: "alive", max: 100, timeoutMs: 0 });
    expect(ids(next)).toEqual(["a4", "a5", "a6", "a7", "a8", "a9"]);
    const pending = await alive.pendingDeliveries(0, { max: 10 });
    expect(pending.map((entry) => [entry.consumer, entry.deliveries])).toEqual([["alive", 2]]);
    await alive.ack(0, [...claimed.map((entry) => entry.offset), ...offsets(next)]);
    expect(await alive.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });

  test("reads a stream holding plain per-message entries and frames (an upgrade with entries in flight)", async () => {
    const plain = open({ framed: false });
    await plain.write(0, messages("old", 3));
    await plain.close();
    const framed = open();
    const redis = admin();
    await framed.write(0, messages("new", 4));
    expect(await redis.xlen(framed.keysOf(0).stream)).toBe(4);
    // The counter starts from XLEN when the first framed write finds none: 3 plain entries, then 4 messages.
    expect((await framed.usage(0)).length).toBe(7);
    const batch = await framed.read(0, { consumer: "c", max: 100, timeoutMs: 0 });
    expect(ids(batch)).toEqual(["old0", "old1", "old2", "new0", "new1", "new2", "new3"]);
    expect(await framed.ack(0, offsets(batch))).toBe(7);
    expect(await redis.xlen(framed.keysOf(0).stream)).toBe(0);
    expect((await framed.usage(0)).length).toBe(0);
    // entriesAt: an entry id gives its messages, a framed offset that message.
    await framed.write(0, messages("x", 3));
    const [entry] = await framed.pendingDeliveries(0, { max: 10 }).then(async () => (await redis.xrange(framed.keysOf(0).stream, "-", "+")).map(([id]) => id));
    const all = await framed.entriesAt(0, [entry!]);
    expect(ids({ entries: all, endOfStream: false })).toEqual(["x0", "x1", "x2"]);
    expect(ids({ entries: await framed.entriesAt(0, [all[1]!.offset]), endOfStream: false })).toEqual(["x1"]);
  });
});
