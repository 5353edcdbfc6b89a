/**
 * pipeline/reduce-read.ts on Redis (fault scenario "reduce", claimIdle 1s): a reduce holder taken
 * over while it still ran read entries after the takeover; they sit pending for it. The new
 * holder's batch that carries a watermark from marks written after them must bring them along,
 * or its watermark passes their event times before a claim after claimIdle hands them over, and
 * they are counted late (windows short by 1–2 in the scenario).
 */
import type { ReadBatchInput } from "@weir/actors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStreamBuffer } from "../src/buffer/index.js";
import { withForeignPendingAdopted, type ReduceRead } from "../src/pipeline/reduce-read.js";
import { findRedisServer, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { messages } from "./window-store-conformance.js";

const request: ReadBatchInput = { vertex: "counts", partition: 0, max: 100, timeoutMs: 0, fromPending: false };

describe.skipIf(findRedisServer() === undefined)("a reduce vertex's reads on Redis: entries an old holder took after the takeover", () => {
  let server: RedisServer;
  const buffers: RedisStreamBuffer[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.allSettled(buffers.map((buffer) => buffer.close()));
    await server?.stop();
  });

  async function setup() {
    const buffer = new RedisStreamBuffer({ name: "rr.counts", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], watermarkWriters: ["cat/0"], keyPrefix: uniquePrefix("rr"), connection: { url: server.url } });
    buffers.push(buffer);
    // The old holder reads two entries, then the upstream writes two more and a watermark past all four.
    await buffer.write(0, messages("old-", 2));
    expect((await buffer.read(0, { consumer: "old", max: 10, timeoutMs: 0 })).entries).toHaveLength(2);
    await buffer.write(0, messages("new-", 2));
    const plain: ReduceRead = (input, signal) => buffer.read(input.partition, { consumer: "new", max: input.max, timeoutMs: input.timeoutMs, signal, fromPending: input.fromPending });
    return { buffer, plain };
  }

  it("a batch carrying a watermark brings the entries other consumers hold pending", async () => {
    const { buffer, plain } = await setup();
    await buffer.writeWatermark(0, { writer: "cat/0", processor: "cat-1", watermark: 5_000 });
    const adopted: number[] = [];
    const batch = await withForeignPendingAdopted(plain, buffer, "new", (_partition, count) => adopted.push(count))(request, new AbortController().signal);
    expect(batch.watermark).toBe(5_000);
    expect(batch.entries.map((entry) => entry.message.id).sort()).toEqual(["new-0", "new-1", "old-0", "old-1"]);
    expect(adopted).toEqual([2]);
    expect(await buffer.pendingDeliveries!(0, { max: 10 })).toEqual(expect.arrayContaining([expect.objectContaining({ consumer: "new" })]));
    expect((await buffer.pendingDeliveries!(0, { max: 10 })).every((entry) => entry.consumer === "new")).toBe(true);
  });

  it("a batch without a watermark is left as it is (no claim on the hot path)", async () => {
    const { buffer, plain } = await setup();
    const batch = await withForeignPendingAdopted(plain, buffer, "new", () => undefined)(request, new AbortController().signal);
    expect(batch.watermark).toBeUndefined();
    expect(batch.entries.map((entry) => entry.message.id)).toEqual(["new-0", "new-1"]);
  });
});
