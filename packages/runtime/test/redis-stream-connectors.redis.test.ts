import type { Message, SinkContext, SinkFunction } from "@weir/actors";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { RedisConnection } from "../src/buffer/index.js";
import { hashTagOf, sinkDedupKey } from "../src/buffer/redis/keys.js";
import { createRedisStreamSink } from "../src/connectors/redis-stream-sink.js";
import { createRedisStreamSource } from "../src/connectors/redis-stream-source.js";
import type { SourceConnector } from "../src/connectors/source-connector.js";
import { withSourceWatermark } from "../src/time/source-watermark.js";
import { messages, sleep } from "./buffer-conformance.js";
import { deleteKeys, redisTestUrl, scanKeys, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("redisStream source and sink", () => {
  const redisUrl = url as string;
  const cleanup: Array<() => Promise<void> | void> = [];
  let prefix = "";

  const test = (name: string, body: () => Promise<void>) =>
    it(name, async () => {
      prefix = uniquePrefix("wc");
      await body();
    });

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await deleteKeys(redisUrl, `${prefix}*`);
  });

  const admin = () => {
    const client = new Redis(redisUrl);
    cleanup.push(() => void client.disconnect());
    return client;
  };
  const source = (streams: string[], extra: Partial<Parameters<typeof createRedisStreamSource>[0]> = {}): SourceConnector => {
    const connector = createRedisStreamSource({ connection: { url: redisUrl, name: prefix }, streams, group: "g", consumer: "w1", blockSliceMs: 50, ...extra });
    cleanup.push(() => connector.close());
    return connector;
  };
  const read = (connector: SourceConnector, partition: number, max = 100, timeoutMs = 0) =>
    connector.read(partition, { max, timeoutMs, signal: new AbortController().signal });
  const context = (partition = 0): SinkContext => ({ vertex: "out", partition, epoch: 1, attempt: 1, signal: new AbortController().signal });

  test("reads an existing stream in batches and maps its fields to messages", async () => {
    const redis = admin();
    const stream = `${prefix}:orders`;
    const first = await redis.xadd(stream, "*", "id", "order-1", "value", "hello", "keys", '["eu","vip"]', "eventTime", "1700000000000", "headers", '{"h":"1"}');
    const second = await redis.xadd(stream, "*", "customer", "c7", "amount", "12");
    await redis.xadd(stream, "*", "value", Buffer.from([0, 255]), "keys", "plain-key");
    const connector = source([stream]);
    const batch1 = await read(connector, 0, 2);
    expect(batch1.entries.map((entry) => entry.offset)).toEqual([first, second]);
    expect(batch1.entries[0]?.message).toEqual({
      id: "order-1",
      keys: ["eu", "vip"],
      value: new TextEncoder().encode("hello"),
      eventTime: 1_700_000_000_000,
      headers: { h: "1" },
    });
    const fallback = batch1.entries[1]?.message as Message;
    expect(fallback.id).toBe(`${stream}/${second}`);
    expect(JSON.parse(new TextDecoder().decode(fallback.value))).toEqual({ customer: "c7", amount: "12" });
    expect(fallback.eventTime).toBe(Number(second?.split("-")[0]));
    const batch2 = await read(connector, 0, 2);
    expect(batch2.entries.map((entry) => [...entry.message.value])).toEqual([[0, 255]]);
    expect(batch2.entries[0]?.message.keys).toEqual(["plain-key"]);
    expect(batch2.endOfStream).toBe(false);
  });

  test("event time: the eventTime field, else (absent or not a number) the entry id's time; the source watermark follows it", async () => {
    const redis = admin();
    const stream = `${prefix}:clicks`;
    await redis.xadd(stream, "*", "value", "a", "eventTime", "1700000000000");
    const noTime = await redis.xadd(stream, "*", "value", "b");
    const badTime = await redis.xadd(stream, "*", "value", "c", "eventTime", "yesterday");
    const connector = withSourceWatermark(source([stream]), { watermark: { maxDelay: 1_000 } });
    const batch = await connector.read(0, { max: 10, timeoutMs: 0, signal: new AbortController().signal });
    const idTime = (id: string | null) => Number(id?.split("-")[0]);
    expect(batch.entries.map((entry) => entry.message.eventTime)).toEqual([1_700_000_000_000, idTime(noTime), idTime(badTime)]);
    expect(batch.watermark).toBe(Math.max(idTime(noTime), idTime(badTime)) - 1_000);
  });

  test("acks only after commit: a restarted consumer re-reads what it had not acked", async () => {
    const redis = admin();
    const stream = `${prefix}:jobs`;
    for (let i = 0; i < 5; i++) await redis.xadd(stream, "*", "id", `job-${i}`, "value", `v${i}`);
    const run1 = source([stream]);
    const batch = await read(run1, 0, 3);
    await run1.ack(0, batch.entries.slice(0, 1).map((entry) => entry.offset)); // epoch 1 committed only job-0
    await run1.close();
    const run2 = source([stream]);
    const again = await read(run2, 0, 10);
    expect(again.entries.map((entry) => entry.message.id)).toEqual(["job-1", "job-2"]);
    const fresh = await read(run2, 0, 10);
    expect(fresh.entries.map((entry) => entry.message.id)).toEqual(["job-3", "job-4"]);
    await run2.ack(0, [...again.entries, ...fresh.entries].map((entry) => entry.offset));
    expect((await redis.xpending(stream, "g"))[0]).toBe(0);
    // Entries are kept for other groups unless deleteOnAck.
    expect(await redis.xlen(stream)).toBe(5);
  });

  test("deletes acked entries with deleteOnAck, and starts at $ when asked", async () => {
    const redis = admin();
    const stream = `${prefix}:tail`;
    await redis.xadd(stream, "*", "value", "old");
    const connector = source([stream], { startFrom: "$", deleteOnAck: true });
    expect((await read(connector, 0)).entries).toEqual([]);
    await redis.xadd(stream, "*", "value", "new");
    const batch = await read(connector, 0);
    expect(batch.entries.map((entry) => new TextDecoder().decode(entry.message.value))).toEqual(["new"]);
    await connector.ack(0, batch.entries.map((entry) => entry.offset));
    expect(await redis.xlen(stream)).toBe(1);
  });

  test("reads one stream per partition, waits for new entries, and ends when asked", async () => {
    const redis = admin();
    const streams = [`${prefix}:a`, `${prefix}:b`];
    const connector = source(streams, { endWhenEmpty: true });
    expect(connector.partitions).toBe(2);
    const waiting = read(connector, 1, 10, 5_000);
    await sleep(30);
    await redis.xadd(streams[1] as string, "*", "id", "b-1", "value", "x");
    expect((await waiting).entries.map((entry) => entry.message.id)).toEqual(["b-1"]);
    expect(await read(connector, 0, 10, 50)).toEqual({ entries: [], endOfStream: true });
    expect((await read(connector, 1, 10, 50)).endOfStream).toBe(true);
  });

  test("sink writes each id once within the dedup window", async () => {
    const stream = `${prefix}:out`;
    const sink = createRedisStreamSink({ connection: { url: redisUrl }, stream, keyPrefix: prefix, dedupWindowMs: 300 });
    cleanup.push(() => sink.close());
    const write = sink.write as SinkFunction;
    const batch = messages("m", 4);
    const results = await write(batch, context());
    expect(results).toEqual(batch.map((message) => ({ id: message.id, status: "ok" })));
    // The same epoch retried (say after a timeout whose write did land): nothing new.
    expect(await write(batch, { ...context(), attempt: 2 })).toHaveLength(4);
    const redis = admin();
    expect(await redis.xlen(stream)).toBe(4);
    await sleep(400);
    await write(batch.slice(0, 1), context());
    expect(await redis.xlen(stream)).toBe(5);
    const keys = await scanKeys(redisUrl, `${prefix}*`);
    expect(keys.sort()).toEqual([stream, sinkDedupKey(prefix, stream)].sort());
    expect(hashTagOf(sinkDedupKey(prefix, stream))).toBe(stream);
  });

  test("sink output reads back through the source as the same messages", async () => {
    const stream = `${prefix}:roundtrip`;
    const connection = new RedisConnection({ url: redisUrl });
    cleanup.push(() => connection.close());
    const sink = createRedisStreamSink({ connection, stream, keyPrefix: prefix });
    const sent: Message[] = [
      ...messages("r", 3),
      { id: "bin", keys: [], value: Uint8Array.from([0, 128, 255]), eventTime: 5, headers: { "ü": "✓" } },
    ];
    await (sink.write as SinkFunction)(sent, context());
    await sink.close(); // a shared connection stays open
    const connector = createRedisStreamSource({ connection, streams: [stream], group: "g", consumer: "c" });
    cleanup.push(() => connector.close());
    const got = await read(connector, 0, 10);
    expect(got.entries.map((entry) => entry.message)).toEqual(sent);
  });

  test("sink trims the stream near maxLen", async () => {
    const stream = `${prefix}:capped`;
    const sink = createRedisStreamSink({ connection: { url: redisUrl }, stream, keyPrefix: prefix, maxLen: 100, dedupWindowMs: 0 });
    cleanup.push(() => sink.close());
    for (let i = 0; i < 10; i++) await (sink.write as SinkFunction)(messages(`b${i}-`, 100), context());
    const length = await admin().xlen(stream);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(1000);
  });
});
