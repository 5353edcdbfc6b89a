import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { deleteKeys, redisTestUrl, scanKeys, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(url === undefined)("a pipeline on Redis streams", () => {
  const redisUrl = url as string;
  let dir: string;
  const prefixes: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-redis-pipeline-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}:*`);
  });

  function spec(name: string, vertices: PipelineSpecInput["spec"]["vertices"], edges: PipelineSpecInput["spec"]["edges"], limits: PipelineSpecInput["spec"]["limits"] = {}, framed = false) {
    const keyPrefix = uniquePrefix("wp");
    prefixes.push(keyPrefix);
    const loaded = parseSpec(
      { apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name }, spec: { buffer: { type: "redis", url: redisUrl, keyPrefix, ...(framed ? { framed: true } : {}) }, limits, vertices, edges } },
      dir,
    );
    return { loaded, keyPrefix };
  }

  it("numaflow#2516's shape on Redis: 4 partitions, a sink answering in random order with random latency, 20,000 delivered", async () => {
    const seen = new Map<string, number>();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      await sleep(Math.random() * 20);
      const shuffled = [...messages].sort(() => Math.random() - 0.5);
      for (const message of shuffled) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      return shuffled.map((message) => ({ id: message.id, status: "ok" }));
    };
    const { loaded, keyPrefix } = spec(
      "seed",
      [
        { name: "in", source: { generator: { total: 20_000, rpu: 10_000_000, duration: "1s", msgSize: 64, keyCount: 16 } } },
        { name: "cat", partitions: 4, udf: { builtin: { name: "cat" } } },
        { name: "out", partitions: 4, sink: { blackhole: {} } },
      ],
      [
        { from: "in", to: "cat" },
        { from: "cat", to: "out" },
      ],
      { readBatchSize: 250, readTimeout: "20ms", maxInflightEpochs: 3 },
    );
    const summary = await createPipeline(loaded, { sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(seen.size).toBe(20_000);
    for (const vertex of ["in", "cat", "out"]) expect(summary.vertices[vertex]).toMatchObject({ read: 20_000, acked: 20_000, ok: 20_000 });
    // Every buffer key Weir wrote carries a per-partition hash tag, so Redis Cluster can spread them;
    // the one other key is the pipeline's spec fingerprint (spec-fingerprint.ts).
    const keys = await scanKeys(redisUrl, `${keyPrefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).toMatch(new RegExp(`^${keyPrefix}:(\\{seed\\.(cat|out)\\.[0-3]\\}|\\{seed\\}:spec$)`));
  });

  it("framed buffers (issue 12): gen → cat → sink, 4 partitions, every message once, and the streams and their counters empty after", async () => {
    const seen = new Map<string, number>();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      await sleep(Math.random() * 5);
      for (const message of messages) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const { loaded, keyPrefix } = spec(
      "framed",
      [
        { name: "in", source: { generator: { total: 20_000, rpu: 10_000_000, duration: "1s", msgSize: 64, keyCount: 16 } } },
        { name: "cat", partitions: 4, udf: { builtin: { name: "cat" } } },
        { name: "out", partitions: 4, sink: { blackhole: {} } },
      ],
      [
        { from: "in", to: "cat" },
        { from: "cat", to: "out" },
      ],
      // A read smaller than a partition-write: frames are served across reads and epochs.
      { readBatchSize: 97, readTimeout: "20ms", maxInflightEpochs: 3 },
      true,
    );
    const summary = await createPipeline(loaded, { sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(seen.size).toBe(20_000);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    for (const vertex of ["in", "cat", "out"]) expect(summary.vertices[vertex]).toMatchObject({ read: 20_000, acked: 20_000, ok: 20_000 });
    const { Redis } = await import("ioredis");
    const client = new Redis(redisUrl);
    try {
      for (const vertex of ["cat", "out"]) {
        for (let p = 0; p < 4; p++) {
          expect(await client.xlen(`${keyPrefix}:{framed.${vertex}.${p}}`)).toBe(0);
          expect(await client.get(`${keyPrefix}:{framed.${vertex}.${p}}:length`)).toBe("0");
        }
      }
    } finally {
      client.disconnect();
    }
  });

  it("acked entries leave the streams: nothing grows without bound", async () => {
    const { loaded, keyPrefix } = spec(
      "bounded",
      [
        { name: "in", source: { generator: { total: 5_000, rpu: 10_000_000, duration: "1s" } } },
        { name: "out", partitions: 2, sink: { blackhole: {} } },
      ],
      [{ from: "in", to: "out" }],
    );
    const summary = await createPipeline(loaded).start();
    expect(summary.status).toBe("completed");
    const { Redis } = await import("ioredis");
    const client = new Redis(redisUrl);
    try {
      for (const p of [0, 1]) expect(await client.xlen(`${keyPrefix}:{bounded.out.${p}}`)).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
