import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type BatchMapAnswer, type PipelineSpecInput } from "@weir/runtime";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-pipeline-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Vertices = PipelineSpecInput["spec"]["vertices"];
type Edges = PipelineSpecInput["spec"]["edges"];

function spec(vertices: Vertices, edges: Edges, limits: PipelineSpecInput["spec"]["limits"] = {}) {
  return parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "test" }, spec: { limits, vertices, edges } }, dir);
}

const generator = (total: number, keyCount = 0) => ({ generator: { total, rpu: 10_000_000, duration: "1s", msgSize: 16, keyCount } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const decoder = new TextDecoder();

async function readJsonl(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, "utf8");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("a pipeline on the in-memory buffer", () => {
  it("numaflow#2516's shape: a 4-partition sink answering in random order with random latency delivers all 20,000", async () => {
    const seen = new Map<string, number>();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      await sleep(Math.random() * 20);
      const shuffled = [...messages].sort(() => Math.random() - 0.5);
      for (const message of shuffled) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      return shuffled.map((message) => ({ id: message.id, status: "ok" }));
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(20_000) },
          { name: "out", partitions: 4, sink: { module: { path: "./unused.js" } } },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 250, readTimeout: "20ms", maxInflightEpochs: 3 },
      ),
      { sinks: { out: sink } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(seen.size).toBe(20_000);
    expect(summary.vertices["out"]).toMatchObject({ read: 20_000, acked: 20_000, ok: 20_000, protocolErrors: 0 });
  });

  it("the same run completes when the sink fails a random 10% on their first attempt", async () => {
    const attempts = new Map<string, number>();
    const sink = async (messages: readonly Message[], context: { attempt: number }): Promise<SinkResult[]> => {
      await sleep(Math.random() * 10);
      return messages.map((message) => {
        attempts.set(message.id, Math.max(attempts.get(message.id) ?? 0, context.attempt));
        return context.attempt === 1 && Math.random() < 0.1
          ? { id: message.id, status: "failure", error: "transient" }
          : { id: message.id, status: "ok" };
      });
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(20_000) },
          { name: "out", partitions: 4, sink: { module: { path: "./unused.js" } } },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 250, readTimeout: "20ms", maxInflightEpochs: 3 },
      ),
      { sinks: { out: sink } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]!.ok).toBe(20_000);
    const retried = [...attempts.values()].filter((attempt) => attempt === 2).length;
    expect(retried).toBeGreaterThan(1_500);
    expect(retried).toBeLessThan(2_500);
  });

  it("writes jsonl lines with id, keys, UTF-8 value, eventTime and partition; keys pick the partition", async () => {
    const out = path.join(dir, "keys.jsonl");
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(400, 8) },
          { name: "cat", partitions: 3, udf: { builtin: { name: "cat" } } },
          { name: "out", partitions: 4, sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "cat" },
          { from: "cat", to: "out" },
        ],
      ),
    );
    expect((await pipeline.start()).status).toBe("completed");
    const lines = await readJsonl(out);
    expect(lines).toHaveLength(400);
    expect(new Set(lines.map((line) => line["id"])).size).toBe(400);
    const first = lines[0]!;
    expect(Object.keys(first).sort()).toEqual(["eventTime", "id", "keys", "partition", "value"]);
    expect(JSON.parse(String(first["value"]).trim())).toHaveProperty("seq");
    // The same key always lands on the same partition.
    const partitionsByKey = new Map<string, Set<unknown>>();
    for (const line of lines) {
      const key = (line["keys"] as string[])[0]!;
      partitionsByKey.set(key, (partitionsByKey.get(key) ?? new Set()).add(line["partition"]));
    }
    expect(partitionsByKey.size).toBe(8);
    for (const partitions of partitionsByKey.values()) expect(partitions.size).toBe(1);
  });

  it("forwards by tags: only matching results take a conditional edge, the rest are dropped and counted", async () => {
    const kept = path.join(dir, "kept.jsonl");
    const all = path.join(dir, "all.jsonl");
    const udf = (message: Message) => {
      const seq = Number(JSON.parse(decoder.decode(message.value).trim()).seq);
      return [{ value: message.value, tags: seq % 4 === 0 ? ["keep"] : ["skip"] }];
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(200) },
          { name: "tag", udf: { builtin: { name: "cat" } } },
          { name: "kept", sink: { jsonl: { path: kept } } },
          { name: "audit", sink: { jsonl: { path: all } } },
        ],
        [
          { from: "in", to: "tag" },
          { from: "tag", to: "kept", conditions: { tags: { values: ["keep"] } } },
          { from: "tag", to: "audit", conditions: { tags: { operator: "not", values: ["nothing"] } } },
        ],
      ),
      { udfs: { tag: udf } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(await readJsonl(kept)).toHaveLength(50);
    expect(await readJsonl(all)).toHaveLength(200);
    expect(summary.vertices["tag"]!.written).toBe(250);

    const only = createPipeline(
      spec(
        [
          { name: "in", source: generator(200) },
          { name: "tag", udf: { builtin: { name: "cat" } } },
          { name: "kept", sink: { blackhole: {} } },
        ],
        [
          { from: "in", to: "tag" },
          { from: "tag", to: "kept", conditions: { tags: { values: ["keep"] } } },
        ],
      ),
      { udfs: { tag: udf } },
    );
    const onlySummary = await only.start();
    expect(onlySummary.vertices["tag"]).toMatchObject({ written: 50, dropped: 150, ok: 200 });
  });

  it("a udf that throws sends that message down the failure path (fallback with the reason) and the run completes", async () => {
    const fallback = path.join(dir, "udf-fallback.jsonl");
    const out = path.join(dir, "udf-out.jsonl");
    const udf = (message: Message) => {
      if (message.id.endsWith("7")) throw new Error(`poison ${message.id}`);
      return [{ value: message.value }];
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(100) },
          {
            name: "map",
            partitions: 2,
            udf: { builtin: { name: "cat" } },
            retryStrategy: { backoff: { interval: "1ms", steps: 2 } },
            fallback: { jsonl: { path: fallback } },
          },
          { name: "out", sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
      ),
      { udfs: { map: udf } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const failed = await readJsonl(fallback);
    expect(failed).toHaveLength(10);
    expect((failed[0]!["headers"] as Record<string, string>)["x-weir-fallback-reason"]).toMatch(/poison/);
    expect(await readJsonl(out)).toHaveLength(90);
    expect(summary.vertices["map"]).toMatchObject({ ok: 90, fallback: 10 });
  });

  it("a batch udf that answers twice, for unknown ids or not at all fails just those messages, which retry", async () => {
    const out = path.join(dir, "batch-out.jsonl");
    const seen = new Map<string, number>();
    // Each message's first answer breaks the contract one way or another (by id), the retry is right.
    const batch = (messages: readonly Message[]): BatchMapAnswer[] =>
      messages.flatMap((message): BatchMapAnswer[] => {
        const attempt = (seen.get(message.id) ?? 0) + 1;
        seen.set(message.id, attempt);
        const right: BatchMapAnswer = { id: message.id, results: [{ value: message.value }] };
        if (attempt > 1) return [right];
        if (message.id.endsWith("3")) return [right, { id: message.id, results: [] }]; // twice: which holds?
        if (message.id.endsWith("5")) return [{ id: `${message.id}-stranger`, results: [{ value: "?" }] }]; // unknown id, own missing
        return [right];
      });
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(100) },
          { name: "map", udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "1ms", steps: 3 }, onFailure: "retry" } },
          { name: "out", sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
      ),
      { udfs: { map: { batch } } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const ids = (await readJsonl(out)).map((line) => line["id"] as string);
    // Every message exactly once: the duplicate answer's empty result did not filter it out, no stranger got in.
    expect(ids.sort()).toEqual(Array.from({ length: 100 }, (_, i) => `in-0-${i}`).sort());
    expect(summary.vertices["map"]).toMatchObject({ ok: 100, fallback: 0, dropped: 0 });
    expect([...seen].filter(([, attempts]) => attempts > 1).map(([id]) => id.slice(-1)).sort()).toEqual([...Array(20)].map((_, i) => (i < 10 ? "3" : "5")));
  });

  it("without a fallback, a throwing udf's messages are dropped and counted, never a crash", async () => {
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(50) },
          { name: "map", udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "1ms", steps: 1 } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
      ),
      {
        udfs: {
          map: () => {
            throw new Error("always");
          },
        },
      },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["map"]).toMatchObject({ dropped: 50, ok: 0 });
    expect(summary.vertices["out"]!.read).toBe(0);
  });

  it("backpressure: a full buffer blocks upstream with retryUntilSuccess and nothing is dropped", async () => {
    const slow = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      await sleep(5);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(2_000) },
          { name: "out", partitions: 2, limits: { bufferMaxLength: 100, readBatchSize: 20 }, sink: { blackhole: {} } },
        ],
        [{ from: "in", to: "out" }],
      ),
      { sinks: { out: slow } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ read: 2_000, ok: 2_000, dropped: 0 });
    expect(summary.vertices["in"]!.dropped).toBe(0);
  });

  it("backpressure: discardLatest drops what does not fit and counts it", async () => {
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(5_000) },
          {
            name: "out",
            partitions: 2,
            limits: { bufferMaxLength: 100, readBatchSize: 10, onFull: "discardLatest" },
            sink: { blackhole: {} },
          },
        ],
        [{ from: "in", to: "out" }],
      ),
      { sinks: { out: async (messages) => (await sleep(5), messages.map((message) => ({ id: message.id, status: "ok" as const }))) } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const dropped = summary.vertices["in"]!.dropped;
    expect(dropped).toBeGreaterThan(0);
    expect(summary.vertices["in"]!.written + dropped).toBe(5_000);
    expect(summary.vertices["out"]!.read).toBe(summary.vertices["in"]!.written);
  });

  it("drain() stops an unbounded source and commits everything in flight", async () => {
    const seen = new Set<string>();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { rpu: 20_000, duration: "1s" } } },
          { name: "cat", partitions: 2, udf: { builtin: { name: "cat" } } },
          { name: "out", partitions: 3, sink: { blackhole: {} } },
        ],
        [
          { from: "in", to: "cat" },
          { from: "cat", to: "out" },
        ],
        { readTimeout: "20ms" },
      ),
      { sinks: { out: async (messages) => messages.map((message) => (seen.add(message.id), { id: message.id, status: "ok" as const })) } },
    );
    const done = pipeline.start();
    await vi.waitFor(() => expect(seen.size).toBeGreaterThan(100), { timeout: 30_000, interval: 10 });
    pipeline.drain();
    const summary = await done;
    expect(summary.status).toBe("completed");
    const read = summary.vertices["in"]!.read;
    expect(read).toBeGreaterThan(100);
    for (const vertex of ["in", "cat", "out"]) expect(summary.vertices[vertex]!.acked).toBe(read);
    expect(seen.size).toBe(read);
  });

  it("a module that cannot be loaded fails the start with the path and a fix", async () => {
    await writeFile(path.join(dir, "bad-udf.mjs"), "export const notIt = 1;\n");
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(10) },
          { name: "map", udf: { module: { path: "./bad-udf.mjs", export: "enrich" } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
      ),
    );
    await expect(pipeline.start()).rejects.toThrow(/has no export 'enrich'; it exports: notIt/);
  });

  it("runs a TypeScript udf module from the examples", async () => {
    const out = path.join(dir, "enriched.jsonl");
    const loaded = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "ts-udf" },
        spec: {
          vertices: [
            { name: "in", source: generator(20, 2) },
            { name: "enrich", udf: { module: { path: "./udfs.ts", export: "enrich" } } },
            { name: "out", sink: { jsonl: { path: out } } },
          ],
          edges: [
            { from: "in", to: "enrich" },
            { from: "enrich", to: "out", conditions: { tags: { values: ["keep"] } } },
          ],
        },
      },
      path.resolve("examples"),
    );
    const summary = await createPipeline(loaded).start();
    expect(summary.status).toBe("completed");
    const lines = await readJsonl(out);
    expect(lines).toHaveLength(20);
    expect(JSON.parse(String(lines[0]!["value"]))).toHaveProperty("enrichedBy");
  });
});
