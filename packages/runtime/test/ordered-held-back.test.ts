/**
 * Issue #15 part 2, its gap: messages held back behind an earlier failed message of their key
 * were logged at debug only. They are counted per vertex — the run summary's `heldBack` and
 * `weir_ordered_held_back_total` — once per attempt that held them back.
 */
import { describe, expect, it } from "vitest";
import type { Message, SinkContext, SinkResult } from "@weir/actors";
import { createPipeline, createPipelineMetrics, emptyCounts, parseSpec, type MapResult, type Pipeline } from "@weir/runtime";
import { keyOrderOf } from "../src/flow/ordered-options.js";
import { orderSinkFunction } from "../src/flow/ordered-sink.js";
import { silentLogger } from "../src/observability/logger.js";

const message = (id: string, key: string): Message => ({ id, keys: [key], value: new TextEncoder().encode(id), eventTime: 0, headers: {} });
const context = (attempt: number): SinkContext => ({ vertex: "out", partition: 0, epoch: 1, attempt, signal: new AbortController().signal });

function spec(options: { ordered: boolean; map: boolean }) {
  return parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "held" },
      spec: {
        limits: { readBatchSize: 200, readTimeout: "10ms" },
        ...(options.ordered ? { ordered: { enabled: true } } : {}),
        vertices: [
          { name: "in", source: { generator: { total: 400, rpu: 10_000_000, duration: "1s", msgSize: 32, keyCount: 4 } } },
          ...(options.map ? [{ name: "map", udf: { builtin: { name: "cat" as const } }, retryStrategy: { onFailure: "retry" as const } }] : []),
          { name: "out", partitions: 2, sink: { module: { path: "./unused.js" } } },
        ],
        edges: options.map
          ? [
              { from: "in", to: "map" },
              { from: "map", to: "out" },
            ]
          : [{ from: "in", to: "out" }],
      },
    },
    process.cwd(),
  );
}

/** Fails every 7th id the first time it sees it: the later messages of its key wait behind it. */
function failOnceEvery7th() {
  const tried = new Set<string>();
  let seen = 0;
  return (id: string): boolean => {
    if (tried.has(id)) return false;
    tried.add(id);
    seen += 1;
    return seen % 7 === 0;
  };
}

describe("ordered: held-back messages are counted", () => {
  it("keyOrderOf counts every message an attempt held back in the vertex's counters", async () => {
    const { spec: loaded } = spec({ ordered: true, map: false });
    const counts = emptyCounts();
    const order = keyOrderOf(loaded, loaded.spec.vertices.find((v) => v.name === "out")!, silentLogger, counts)!;
    const write = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((m): SinkResult => (m.id === "a1" ? { id: m.id, status: "failure", error: "test" } : { id: m.id, status: "ok" }));
    // a1 fails: a2 and a3 wait behind it; b1 and b2 go on.
    const batch = [message("a1", "a"), message("b1", "b"), message("a2", "a"), message("a3", "a"), message("b2", "b")];
    await orderSinkFunction(write, order)(batch, context(1));
    expect(counts.heldBack).toBe(2);
    await orderSinkFunction(write, order)(batch.filter((m) => m.keys[0] !== "b"), context(2));
    expect(counts.heldBack).toBe(4);
  });

  it("a sink's and a udf's held-back messages reach the run summary and weir_ordered_held_back_total", async () => {
    const sinkFails = failOnceEvery7th();
    const udfFails = failOnceEvery7th();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((m): SinkResult => (sinkFails(m.id) ? { id: m.id, status: "failure", error: "test" } : { id: m.id, status: "ok" }));
    const udf = async (m: Message): Promise<MapResult[]> => {
      if (udfFails(m.id)) throw new Error("test");
      return [{ value: m.value }];
    };
    let pipeline: Pipeline | undefined;
    const metrics = createPipelineMetrics({ pipeline: "held", processMetrics: false, counts: () => pipeline?.counts() ?? {} });
    pipeline = createPipeline(spec({ ordered: true, map: true }), { udfs: { map: udf }, sinks: { out: sink }, inspect: metrics.inspect });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const map = summary.vertices["map"]!;
    const out = summary.vertices["out"]!;
    expect(map).toMatchObject({ ok: 400, dropped: 0 });
    expect(out).toMatchObject({ ok: 400, dropped: 0 });
    // 4 keys, 100 messages each, a failure every 7th: every failure but a key's last message holds some back.
    expect(map.heldBack).toBeGreaterThan(0);
    expect(out.heldBack).toBeGreaterThan(0);
    const text = await metrics.metrics();
    expect(text).toContain(`weir_ordered_held_back_total{pipeline="held",vertex="map"} ${map.heldBack}`);
    expect(text).toContain(`weir_ordered_held_back_total{pipeline="held",vertex="out"} ${out.heldBack}`);
  });

  it("control: without ordered nothing is held back", async () => {
    const fails = failOnceEvery7th();
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((m): SinkResult => (fails(m.id) ? { id: m.id, status: "failure", error: "test" } : { id: m.id, status: "ok" }));
    const summary = await createPipeline(spec({ ordered: false, map: false }), { sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 400, heldBack: 0 });
  });
});
