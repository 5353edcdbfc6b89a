import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { deleteKeys, redisTestUrl, startRedisCluster, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(url === undefined)("pipelines on Redis under faults", () => {
  const redisUrl = url as string;
  let dir: string;
  let admin: Redis;
  const prefixes: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-redis-faults-"));
    admin = new Redis(redisUrl);
  });
  afterAll(async () => {
    admin.disconnect();
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}:*`);
  });

  function spec(name: string, bufferUrl: string, vertices: PipelineSpecInput["spec"]["vertices"], limits: PipelineSpecInput["spec"]["limits"] = {}, cluster = false) {
    const keyPrefix = uniquePrefix("wf");
    prefixes.push(keyPrefix);
    const edges = [{ from: "in", to: "out" }];
    const loaded = parseSpec(
      { apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name }, spec: { buffer: { type: "redis", url: bufferUrl, keyPrefix, cluster }, limits, vertices, edges } },
      dir,
    );
    return { loaded, keyPrefix };
  }

  const recorder = () => {
    const seen = new Map<string, number>();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      for (const message of messages) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    return { seen, sink };
  };

  it("the pipeline's connections are killed mid-run (CLIENT KILL): the run completes and nothing is lost", async () => {
    const total = 20_000;
    const { seen, sink } = recorder();
    const { loaded } = spec(
      "dropped",
      redisUrl,
      [
        { name: "in", source: { generator: { total, rpu: 20_000, duration: "1s" } } },
        { name: "out", partitions: 4, sink: { blackhole: {} } },
      ],
      { readBatchSize: 100, readTimeout: "20ms" },
    );
    const run = createPipeline(loaded, { sinks: { out: sink } }).start();
    let kills = 0;
    for (let i = 0; i < 3; i += 1) {
      await sleep(200);
      kills += Number(await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"));
    }
    const summary = await run;
    expect(kills).toBeGreaterThan(0);
    expect(summary.status).toBe("completed");
    expect(seen.size).toBe(total);
    for (const id of Array.from({ length: total }, (_, i) => `in-0-${i}`)) expect(seen.has(id)).toBe(true);
    expect(summary.vertices["out"]!.acked).toBeGreaterThanOrEqual(total);
  });

  it("backpressure: a stalled sink holds a 100-entry buffer full, upstream waits, nothing is dropped", async () => {
    let stalled = true;
    const { seen } = recorder();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      while (stalled) await sleep(10);
      for (const message of messages) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const { loaded, keyPrefix } = spec(
      "stalled",
      redisUrl,
      [
        { name: "in", source: { generator: { total: 3_000, rpu: 1_000_000, duration: "1s" } } },
        { name: "out", partitions: 2, limits: { bufferMaxLength: 100, readBatchSize: 10 }, sink: { blackhole: {} } },
      ],
    );
    const pipeline = createPipeline(loaded, { sinks: { out: sink } });
    const run = pipeline.start();
    const lengths: number[] = [];
    const sourceReads: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      await sleep(100);
      lengths.push((await admin.xlen(`${keyPrefix}:{stalled.out.0}`)) + (await admin.xlen(`${keyPrefix}:{stalled.out.1}`)));
      sourceReads.push(pipeline.counts()["in"]!.read);
    }
    // While stalled the streams stay at capacity (2 × 80) and the source stops reading: memory stays flat.
    expect(Math.max(...lengths)).toBeLessThanOrEqual(160);
    expect(sourceReads.at(-1)).toBe(sourceReads[4]);
    expect(sourceReads.at(-1)!).toBeLessThan(3_000);
    stalled = false;
    const summary = await run;
    expect(summary.status).toBe("completed");
    expect(seen.size).toBe(3_000);
    expect(summary.vertices["in"]!.dropped).toBe(0);
  });

  it("backpressure: discardLatest drops what does not fit and counts it", async () => {
    const { seen, sink } = recorder();
    const slow = async (messages: readonly Message[]) => (await sleep(20), sink(messages));
    const { loaded } = spec(
      "discard",
      redisUrl,
      [
        { name: "in", source: { generator: { total: 3_000, rpu: 1_000_000, duration: "1s" } } },
        { name: "out", partitions: 2, limits: { bufferMaxLength: 100, readBatchSize: 10, onFull: "discardLatest" }, sink: { blackhole: {} } },
      ],
    );
    const pipeline = createPipeline(loaded, { sinks: { out: slow } });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const dropped = summary.vertices["in"]!.dropped;
    expect(dropped).toBeGreaterThan(0);
    // Counted per partition of the full buffer, and adding up to the vertex's count.
    const perPartition = pipeline.discards()["out"]!;
    expect(perPartition).toHaveLength(2);
    expect(perPartition[0]! + perPartition[1]!).toBe(dropped);
    expect(summary.vertices["in"]!.written + dropped).toBe(3_000);
    expect(seen.size).toBe(summary.vertices["in"]!.written);
  });

  it("a drain is no end of stream: an unbounded pipeline drained (a rolling restart) flows again when started again", async () => {
    const { seen, sink } = recorder();
    const { loaded, keyPrefix } = spec(
      "rolling",
      redisUrl,
      [
        { name: "in", source: { generator: { rpu: 2_000, duration: "1s" } } },
        { name: "out", partitions: 2, sink: { blackhole: {} } },
      ],
      { readBatchSize: 50, readTimeout: "20ms" },
    );
    for (const round of [1, 2]) {
      const before = seen.size;
      const pipeline = createPipeline(loaded, { sinks: { out: sink } });
      const run = pipeline.start();
      // The generator starts over each run: ids the first run wrote are dropped as duplicates
      // (dedup window), so the second run shows as ids beyond the first run's.
      const deadline = Date.now() + 15_000;
      while (seen.size < before + 100 && Date.now() < deadline) await sleep(10);
      expect(seen.size, `round ${round}: new messages reached the sink`).toBeGreaterThanOrEqual(before + 100);
      pipeline.drain();
      const summary = await run;
      expect(summary.status, `round ${round}`).toBe("drained");
      expect(summary.vertices["in"]!.read, `round ${round}: the source sent`).toBeGreaterThan(0);
      // Numaflow 1.4.3's class of bug: an end of stream written by a drain would stop the next run for good.
      for (const p of [0, 1]) expect(await admin.exists(`${keyPrefix}:{rolling.out.${p}}:eos`), `round ${round}: end-of-stream marker`).toBe(0);
    }
  });

  it("runs a 4-partition pipeline across a local 3-master Redis Cluster without CROSSSLOT errors", async () => {
    const cluster = await startRedisCluster(3);
    try {
      const { seen, sink } = recorder();
      const { loaded } = spec(
        "clustered",
        cluster.url,
        [
          { name: "in", source: { generator: { total: 5_000, rpu: 1_000_000, duration: "1s", keyCount: 32 } } },
          { name: "out", partitions: 4, sink: { blackhole: {} } },
        ],
        { readBatchSize: 100, readTimeout: "20ms" },
        true,
      );
      const summary = await createPipeline(loaded, { sinks: { out: sink } }).start();
      expect(summary.status, summary.reason).toBe("completed");
      expect(seen.size).toBe(5_000);
      // The partitions' keys landed on more than one node.
      const nodesWithKeys = await Promise.all(
        cluster.nodes.map(async (node) => {
          const client = new Redis(node.url);
          try {
            return (await client.dbsize()) > 0;
          } finally {
            client.disconnect();
          }
        }),
      );
      expect(nodesWithKeys.filter(Boolean).length).toBeGreaterThan(1);
    } finally {
      await cluster.stop();
    }
  });
});
