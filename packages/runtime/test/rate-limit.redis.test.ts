/**
 * The Redis token bucket (flow/redis-token-bucket.ts) on a real Redis: the Lua script follows the
 * same math as rate-bucket.ts, shares one bucket between clients, and a rate-limited pipeline on
 * Redis drains promptly while throttled.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { rateLimitKey } from "../src/buffer/redis/keys.js";
import { createPipelineMetrics } from "../src/observability/pipeline-metrics.js";
import { idleResetMs, take, adjust, type BucketState, type RateParams } from "../src/flow/rate-bucket.js";
import { redisTokenBucket } from "../src/flow/redis-token-bucket.js";
import { deleteKeys, findRedisServer, redisTestUrl, startRedisServer, uniquePrefix } from "./support/redis-server.js";
import { monotonicNow } from "../src/time/monotonic-clock.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("the Redis token bucket", () => {
  const redisUrl = url as string;
  let redis: Redis;
  let dir: string;
  const prefix = uniquePrefix("rb");
  beforeAll(async () => {
    redis = new Redis(redisUrl);
    dir = await mkdtemp(path.join(tmpdir(), "weir-rate-redis-"));
  });
  afterAll(async () => {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
    await deleteKeys(redisUrl, `${prefix}*`);
  });

  const stateOf = async (key: string): Promise<BucketState> => {
    const [tokens, last, start] = (await redis.hmget(key, "tokens", "last", "start")).map(Number) as [number, number, number];
    return { tokens, last, start };
  };

  it("runs the math of rate-bucket.ts, on Redis's clock", async () => {
    const key = rateLimitKey(prefix, "p", "math");
    const params: RateParams = { max: 1_000, min: 20, rampUpMs: 2_000 };
    const store = redisTokenBucket(redis, key, params);
    const first = await store.take(1_000_000, undefined);
    expect(first.granted).toBe(20);
    let state = await stateOf(key);
    expect(state.tokens).toBe(0);
    // Each later call is replayed in TypeScript at the time the script recorded ('last').
    for (let i = 0; i < 40; i++) {
      const want = [3, 50, 400][i % 3]!;
      if (i % 7 === 6) {
        await store.adjust(i % 2 === 0 ? 5 : -5, undefined);
        const next = await stateOf(key);
        expect(next.tokens).toBeCloseTo(adjust(state, next.last, params, i % 2 === 0 ? 5 : -5).tokens, 6);
        state = next;
        continue;
      }
      const taken = await store.take(want, undefined);
      const next = await stateOf(key);
      const expected = take(state, next.last, params, want);
      expect({ granted: taken.granted, waitMs: taken.waitMs }).toEqual({ granted: expected.granted, waitMs: expected.waitMs });
      expect(taken.rate).toBeCloseTo(expected.rate, 6);
      expect(next.tokens).toBeCloseTo(expected.state.tokens, 6);
      state = next;
    }
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(idleResetMs(params.rampUpMs));
  });

  it("shares one bucket between clients: together they never get more than it holds and refills", async () => {
    const key = rateLimitKey(prefix, "p", "shared");
    const params: RateParams = { max: 100, min: 100, rampUpMs: 0 };
    const clients = [new Redis(redisUrl), new Redis(redisUrl), new Redis(redisUrl)];
    try {
      const started = monotonicNow();
      const results = await Promise.all(clients.flatMap((client) => Array.from({ length: 30 }, () => redisTokenBucket(client, key, params).take(10, undefined))));
      const elapsedS = (monotonicNow() - started) / 1000;
      const granted = results.reduce((sum, result) => sum + result.granted, 0);
      expect(granted).toBeGreaterThanOrEqual(100);
      expect(granted).toBeLessThanOrEqual(100 + Math.ceil(100 * elapsedS));
      for (const result of results.filter((r) => r.granted === 0)) expect(result.waitMs).toBeGreaterThan(0);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  it("a worker that restarts joins the ramp where the vertex is: the ramp's start lives in Redis", async () => {
    const key = rateLimitKey(prefix, "p", "restart");
    const params: RateParams = { max: 1_000, min: 10, rampUpMs: 60_000 };
    const first = await redisTokenBucket(redis, key, params).take(1, undefined);
    expect(first.rate).toBe(10);
    const { start } = await stateOf(key);
    // A new process: its own connection, its own store object.
    const restarted = new Redis(redisUrl);
    try {
      const again = await redisTokenBucket(restarted, key, params).take(1, undefined);
      const { last, start: kept } = await stateOf(key);
      expect(kept).toBe(start);
      expect(again.rate).toBeGreaterThan(10);
      expect(again.rate).toBeCloseTo(10 + (990 * (last - start)) / 60_000, 6);
    } finally {
      restarted.disconnect();
    }
  });

  function spec(name: string, keyPrefix: string, vertices: PipelineSpecInput["spec"]["vertices"], limits: PipelineSpecInput["spec"]["limits"] = {}) {
    return parseSpec(
      { apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name }, spec: { buffer: { type: "redis", url: redisUrl, keyPrefix }, limits, vertices, edges: [{ from: "in", to: "out" }] } },
      dir,
    );
  }

  it("limits a pipeline's vertex: its bucket lives under the pipeline's keys, the metric shows the limit", async () => {
    const keyPrefix = `${prefix}-m`;
    const loaded = spec("metered", keyPrefix, [
      { name: "in", source: { generator: { total: 300, rpu: 100_000, duration: "1s" } } },
      { name: "out", partitions: 2, sink: { blackhole: {} }, limits: { rateLimit: { max: 100_000, store: { redis: {} } } } },
    ]);
    const pipeline = createPipeline(loaded);
    const metrics = createPipelineMetrics({ pipeline: "metered", processMetrics: false, rateLimits: () => pipeline.rateLimits() });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ read: 300, ok: 300 });
    expect(await redis.exists(rateLimitKey(keyPrefix, "metered", "out"))).toBe(1);
    expect(Object.keys(pipeline.rateLimits())).toEqual(["out"]);
    expect(await metrics.metrics()).toContain('weir_rate_limit{pipeline="metered",vertex="out"} 100000');
    await deleteKeys(redisUrl, `${keyPrefix}*`);
  });

  it("a throttled vertex drains within a read timeout, and its readers waited for tokens", async () => {
    const keyPrefix = `${prefix}-d`;
    const loaded = spec(
      "throttled",
      keyPrefix,
      [
        { name: "in", source: { generator: { total: 2_000, rpu: 100_000, duration: "1s" } } },
        { name: "out", partitions: 2, sink: { blackhole: {} }, limits: { rateLimit: { max: 5, store: { redis: {} } } } },
      ],
      { readBatchSize: 50, readTimeout: "50ms" },
    );
    let delivered = 0;
    let reached: () => void = () => undefined;
    const some = new Promise<void>((resolve) => (reached = resolve));
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      delivered += messages.length;
      if (delivered >= 8) reached();
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const pipeline = createPipeline(loaded, { sinks: { out: sink } });
    const done = pipeline.start();
    await some;
    pipeline.drain();
    const summary = await done;
    expect(summary.status).toBe("drained");
    // 5 a second (+ the bucket's first second): far from the 2,000 written.
    expect(summary.vertices["out"]!.read).toBeLessThan(200);
    expect(pipeline.rateLimits()["out"]!.waitedMs).toBeGreaterThan(0);
    await deleteKeys(redisUrl, `${keyPrefix}*`);
  }, 30_000);
});

describe.skipIf(findRedisServer() === undefined)("the Redis token bucket under maxmemory", () => {
  it("still takes while Redis refuses writes for memory: reads (which free memory by their acks) must go on", async () => {
    const server = await startRedisServer({ args: ["--maxmemory-policy", "noeviction"] });
    const redis = new Redis(server.url);
    try {
      await redis.config("SET", "maxmemory", "1");
      await expect(redis.set("x", "y")).rejects.toThrow(/OOM/);
      const taken = await redisTokenBucket(redis, rateLimitKey("weir", "p", "out"), { max: 10, min: 10, rampUpMs: 0 }).take(5, undefined);
      expect(taken.granted).toBe(5);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
