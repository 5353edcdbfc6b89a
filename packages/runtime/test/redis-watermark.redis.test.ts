/**
 * Watermark marks on the Redis buffer (issue #13), beyond the shared conformance suite: how a
 * mark is stored, that another process reads it, that a mark left pending never reaches a
 * reader, that a mark Redis refuses for memory is skipped and counted instead of failing, and that
 * each reader's view is kept in Redis for `weir why` and `weir ui`; and `entriesAt`, how a living
 * worker looks at a dead one's pending entries (pipeline/pending-cap.ts).
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedisStreamBuffer, type RedisStreamBufferOptions } from "../src/buffer/index.js";
import type { WatermarkViewState } from "../src/buffer/watermark-view.js";
import { ids, messages } from "./buffer-conformance.js";
import { deleteKeys, redisTestUrl, startRedisServer, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("RedisStreamBuffer watermark marks", () => {
  const redisUrl = url as string;
  const prefix = uniquePrefix("wm");
  let admin: Redis;
  let n = 0;
  const opened: Array<{ close(): Promise<unknown> }> = [];
  const options = (connectionUrl = redisUrl): RedisStreamBufferOptions => ({
    name: `wm-${++n}.v`,
    partitions: 1,
    maxLength: 100,
    usageLimit: 1,
    upstreams: [],
    watermarkWriters: ["up/0"],
    keyPrefix: prefix,
    connection: { url: connectionUrl },
  });
  const open = (buffer: RedisStreamBuffer): RedisStreamBuffer => {
    opened.push(buffer);
    return buffer;
  };

  beforeAll(() => {
    admin = new Redis(redisUrl);
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((item) => item.close()));
  });
  afterAll(async () => {
    admin.disconnect();
    await deleteKeys(redisUrl, `${prefix}*`);
  });

  it("stores a mark as an entry of its own kind, read and deleted by another process", async () => {
    const writerOptions = options();
    const writer = open(new RedisStreamBuffer(writerOptions));
    const reader = open(new RedisStreamBuffer({ ...writerOptions, connection: { url: redisUrl } }));
    await writer.write(0, messages("a", 1));
    await writer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 42 });
    const stream = writer.keysOf(0).stream;
    const raw = (await admin.xrange(stream, "-", "+")).map(([, fields]) => fields);
    expect(raw[1]).toEqual(["w", JSON.stringify({ w: "up/0", p: "w1", t: 42 })]);
    const batch = await reader.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(ids(batch)).toEqual(["a0"]);
    expect(batch.watermark).toBe(42);
    // The mark is gone from the stream; the data entry stays until acked.
    expect(await admin.xlen(stream)).toBe(1);
  });

  it("never hands out a mark left pending (its ack was lost): a re-read acks and deletes it", async () => {
    const buffer = open(new RedisStreamBuffer(options()));
    await buffer.write(0, messages("a", 1));
    await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 7 });
    const stream = buffer.keysOf(0).stream;
    // A reader that died after XREADGROUP delivered both, before anything was acked.
    await admin.xreadgroup("GROUP", buffer.name, "c", "COUNT", 10, "STREAMS", stream, ">");
    const pending = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true });
    expect(ids(pending)).toEqual(["a0"]);
    expect(pending).not.toHaveProperty("watermark");
    expect((await buffer.pendingDeliveries(0, { max: 10 })).map((entry) => entry.offset)).toEqual([pending.entries[0]?.offset]);
    expect(await admin.xlen(stream)).toBe(1);
  });

  it("skips and counts a mark Redis refuses over maxmemory, and data writes stay backpressure", async () => {
    const server = await startRedisServer({ args: ["--maxmemory-policy", "noeviction"] });
    opened.push({ close: () => server.stop() });
    const buffer = open(new RedisStreamBuffer(options(server.url)));
    await buffer.write(0, messages("a", 1));
    const direct = new Redis(server.url);
    try {
      await direct.config("SET", "maxmemory", "1");
      await expect(buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 5 })).resolves.toBeUndefined();
      expect(buffer.marksSkipped).toBe(1);
      expect(await buffer.write(0, messages("b", 1))).toEqual({ written: 0 });
      await direct.config("SET", "maxmemory", "0");
      await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 6 });
      expect(buffer.marksSkipped).toBe(1);
      expect((await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 })).watermark).toBe(6);
    } finally {
      direct.disconnect();
    }
  });
  it("keeps each reader's view in the partition's :watermark-view hash: the writer and processor holding it back, since when", async () => {
    const base = options();
    const buffer = open(new RedisStreamBuffer({ ...base, watermarkWriters: ["up/0", "up/1"] }));
    await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 10 });
    await buffer.writeWatermark(0, { writer: "up/1", processor: "w2", watermark: 50 });
    expect((await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 })).watermark).toBe(10);
    // A keep-alive of the same watermark: still held since the first mark.
    await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 10 });
    await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    const stored = await admin.hgetall(buffer.keysOf(0).watermarkView);
    expect(Object.keys(stored)).toEqual(["c"]);
    const state = JSON.parse(stored["c"]!) as WatermarkViewState;
    expect(state.watermark).toBe(10);
    const up0 = state.writers.find((entry) => entry.writer === "up/0")!.processors;
    expect(up0).toHaveLength(1);
    expect(up0[0]).toMatchObject({ processor: "w1", watermark: 10, live: true });
    expect(up0[0]!.since).toBeLessThanOrEqual(up0[0]!.writtenAt);
    expect(state.since).toBeLessThanOrEqual(state.at!);
    expect(state.writers.find((entry) => entry.writer === "up/1")!.processors[0]).toMatchObject({ processor: "w2", watermark: 50 });
  });
  it("entriesAt: another consumer's unacknowledged entries by offset, without delivering them; acked offsets and marks left out", async () => {
    const buffer = open(new RedisStreamBuffer(options()));
    await buffer.write(0, messages("a", 3));
    const held = (await buffer.read(0, { consumer: "m1", max: 3, timeoutMs: 0 })).entries.map((entry) => entry.offset);
    await buffer.ack(0, [held[1]!]);
    await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 42 });
    const markId = (await admin.xrange(buffer.keysOf(0).stream, "-", "+")).pop()![0];
    const found = await buffer.entriesAt(0, [...held, markId]);
    expect(found.map((entry) => [entry.offset, entry.message.id, entry.message.eventTime])).toEqual([
      [held[0], "a0", 1_700_000_000_000],
      [held[2], "a2", 1_700_000_000_002],
    ]);
    expect((await buffer.pendingDeliveries(0, { max: 10 })).map((entry) => [entry.consumer, entry.deliveries])).toEqual([
      ["m1", 1],
      ["m1", 1],
    ]);
    expect(await buffer.entriesAt(0, [])).toEqual([]);
    await expect(buffer.entriesAt(0, ["nope"])).rejects.toMatchObject({ code: "BUFFER_INVALID_OFFSET" });
  });
});
