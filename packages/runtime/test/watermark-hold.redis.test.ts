/**
 * A worker that has not yet met every writer's mark holds its writer back downstream (review
 * finding 1 of issue #13). On Redis a second worker of a vertex — scale-out, or a restart under a
 * new consumer name — reads entries of a partition another worker also reads. Until its first
 * mark, readers downstream only see the other worker's marks; what it forwards meanwhile could be
 * overtaken by them and arrive late. So before its first read of a partition it publishes a hold
 * mark for its writer, which readers take into their minimum without ever reporting less than
 * before, and which its first real mark (END_OF_TIME at the end of its input) replaces.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ReadBatchInput, ReadBatchOutput } from "@weir/actors";
import { RedisStreamBuffer, type PartitionedBuffer } from "../src/buffer/index.js";
import { WatermarkView } from "../src/buffer/watermark-view.js";
import { silentLogger } from "../src/observability/logger.js";
import { holdingBeforeFirstRead, vertexWatermarks } from "../src/pipeline/vertex-watermarks.js";
import { createWatermarkPublisher } from "../src/pipeline/watermark-publisher.js";
import { parseSpec } from "../src/spec/load-spec.js";
import { END_OF_TIME, HOLD_MARK } from "../src/time/watermark.js";
import { reduceSpec } from "./support/event-time-run.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

describe("a reader's view of a hold mark", () => {
  it("reports nothing while a writer is held before any watermark, and never less than before", () => {
    const view = new WatermarkView(["cat/0"], undefined);
    view.meet("cat/0", "w2", HOLD_MARK, 1);
    expect(view.current()).toBeUndefined();
    view.meet("cat/0", "w2", 5_000, 2);
    expect(view.current()).toBe(5_000);
    view.meet("cat/0", "w3", HOLD_MARK, 3);
    view.meet("cat/0", "w2", 7_000, 4);
    expect(view.current()).toBe(5_000);
    view.meet("cat/0", "w3", 6_000, 5);
    expect(view.current()).toBe(6_000);
  });
});

const url = redisTestUrl();

describe.skipIf(url === undefined)("a vertex's second worker on Redis, before its first mark", () => {
  const prefix = uniquePrefix("hold");
  const opened: RedisStreamBuffer[] = [];
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((buffer) => buffer.close()));
  });
  afterAll(async () => {
    await deleteKeys(url as string, `${prefix}*`);
  });

  const spec = parseSpec(reduceSpec({ source: { generator: { rpu: 1 } }, reducePartitions: 1, window: { fixed: { length: 100 } }, watermark: { maxDelay: 0 } }), "/base").spec;
  const vertex = spec.spec.vertices.find((candidate) => candidate.name === "cat")!;
  const request: ReadBatchInput = { vertex: "cat", partition: 0, max: 10, timeoutMs: 0, fromPending: false };
  const entry = (id: string, eventTime: number) => ({ id, keys: [], value: new Uint8Array(), eventTime, headers: {} });

  it("holds the watermark downstream until its own first mark, so what it forwards meanwhile is not overtaken", async () => {
    const downstream = new RedisStreamBuffer({ name: "hold.counts", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], watermarkWriters: ["cat/0"], keyPrefix: prefix, connection: { url: url as string } });
    opened.push(downstream);
    const reader = { consumer: "r", max: 10, timeoutMs: 0 };
    const first = createWatermarkPublisher({ vertex: "cat", processor: "w1", targets: [downstream], logger: silentLogger });
    await first.publish(0, 5_000);
    expect((await downstream.read(0, reader)).watermark).toBe(5_000);

    const second = vertexWatermarks({ spec, vertex, processor: "w2", downstream: [downstream as PartitionedBuffer], keepAliveMs: 60_000, logger: silentLogger, cancelled: () => false })!;
    try {
      const read = holdingBeforeFirstRead(second, async (): Promise<ReadBatchOutput> => ({ entries: [], endOfStream: false }));
      await read(request, new AbortController().signal);
      await downstream.write(0, [entry("forwarded", 5_500)]); // what w2 read and forwards, before its first ack
      await first.publish(0, 7_000); // w1 moves on past it
      const batch = await downstream.read(0, reader);
      expect(batch.entries.map((e) => e.message.id)).toEqual(["forwarded"]);
      expect(batch.watermark).toBe(5_000);

      await second.publish(0, 6_000); // w2's first ack replaces the hold
      expect((await downstream.read(0, reader)).watermark).toBe(6_000);
      await Promise.all([second.publish(0, END_OF_TIME), first.publish(0, END_OF_TIME)]);
      expect((await downstream.read(0, reader)).watermark).toBe(END_OF_TIME);
    } finally {
      second.close();
    }
  });

  it("a worker whose input ended before any mark publishes the end, not the hold", async () => {
    const downstream = new RedisStreamBuffer({ name: "hold.end", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], watermarkWriters: ["cat/0"], keyPrefix: prefix, connection: { url: url as string } });
    opened.push(downstream);
    const watermarks = vertexWatermarks({ spec, vertex, processor: "w2", downstream: [downstream as PartitionedBuffer], keepAliveMs: 60_000, logger: silentLogger, cancelled: () => false })!;
    try {
      await holdingBeforeFirstRead(watermarks, async (): Promise<ReadBatchOutput> => ({ entries: [], endOfStream: true, watermark: END_OF_TIME }))(request, new AbortController().signal);
      expect((await downstream.read(0, { consumer: "r", max: 10, timeoutMs: 0 })).watermark).toBeUndefined();
      await watermarks.publish(0, END_OF_TIME);
      expect((await downstream.read(0, { consumer: "r", max: 10, timeoutMs: 0 })).watermark).toBe(END_OF_TIME);
    } finally {
      watermarks.close();
    }
  });
});
