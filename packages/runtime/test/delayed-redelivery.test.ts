/**
 * Delayed redelivery on the memory buffer (docs/flow-control.md, "Delayed redelivery"): a sink or
 * a udf answers retryLater, the message leaves its epoch and comes back after the delay, the
 * partition flows on meanwhile, and the run does not complete while a message is parked.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkAnswer, SinkContext } from "@weir/actors";
import { createPipeline, parseSpec, type Pipeline } from "@weir/runtime";
import { createPipelineMetrics } from "../src/observability/pipeline-metrics.js";
import type { MapContext, RetryLaterAnswer } from "../src/udf/map-function.js";
import { listSource } from "./support/list-source.js";

const encoder = new TextEncoder();
const message = (i: number): Message => ({ id: `m${i}`, keys: [`k${i % 4}`], value: encoder.encode(`v${i}`), eventTime: 0, headers: {} });
const messages = (n: number) => Array.from({ length: n }, (_, i) => message(i));

function spec(options: { sink?: Record<string, unknown>; udf?: boolean; retryStrategy?: Record<string, unknown>; fallback?: Record<string, unknown> } = {}) {
  const sink = { module: { path: "./unused.mjs" }, ...(options.retryStrategy === undefined ? {} : { retryStrategy: options.retryStrategy }) };
  return parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "later" },
      spec: {
        buffer: { type: "memory" },
        limits: { readBatchSize: 20, readTimeout: "10ms" },
        vertices: [
          { name: "in", source: { generator: { total: 1 } } },
          ...(options.udf === true ? [{ name: "map", partitions: 2, udf: { builtin: { name: "cat" } } }] : []),
          { name: "out", partitions: 2, sink: options.sink ?? sink, ...(options.fallback === undefined ? {} : { fallback: options.fallback }) },
        ],
        edges: options.udf === true ? [{ from: "in", to: "map" }, { from: "map", to: "out" }] : [{ from: "in", to: "out" }],
      },
    },
    process.cwd(),
  ).spec;
}

/** Every event of a run, in the order it happened. */
type Event = { readonly kind: "later" | "delivered"; readonly id: string; readonly partition: number; readonly at: number };

describe("delayed redelivery (memory buffer)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-later-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a sink's retryLater: the message comes back after its delay, once, while the partition flows on; the run waits for it", async () => {
    const delayMs = 300;
    const events: Event[] = [];
    const seen = new Set<string>();
    const sink = async (batch: readonly Message[], context: SinkContext): Promise<SinkAnswer[]> =>
      batch.map((entry): SinkAnswer => {
        const even = Number(entry.id.slice(1)) % 2 === 0;
        if (even && !seen.has(entry.id)) {
          seen.add(entry.id);
          events.push({ kind: "later", id: entry.id, partition: context.partition, at: performance.now() });
          return { id: entry.id, status: "retryLater", delayMs };
        }
        events.push({ kind: "delivered", id: entry.id, partition: context.partition, at: performance.now() });
        return { id: entry.id, status: "ok" };
      });
    let pipeline: Pipeline | undefined;
    const metrics = createPipelineMetrics({ pipeline: "later", processMetrics: false, counts: () => pipeline?.counts() ?? {} });
    pipeline = createPipeline(spec(), { inspect: metrics.inspect, sources: { in: listSource(messages(200)) }, sinks: { out: sink } });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 200, retriedLater: 100, fallback: 0, dropped: 0, read: 300, acked: 300 });
    expect(await metrics.metrics()).toMatch(/^weir_retried_later_total\{pipeline="later",vertex="out"\} 100$/m);

    const delivered = events.filter((event) => event.kind === "delivered");
    expect(delivered.map((event) => event.id).sort()).toEqual(messages(200).map((entry) => entry.id).sort()); // each once
    for (const later of events.filter((event) => event.kind === "later")) {
      const back = delivered.find((event) => event.id === later.id)!;
      expect(back.at - later.at, later.id).toBeGreaterThanOrEqual(delayMs);
    }
    // The partition flowed while messages were parked: odd messages were delivered after the first
    // park and before the first parked message came back.
    const firstLater = events.findIndex((event) => event.kind === "later");
    const firstBack = events.findIndex((event) => event.kind === "delivered" && Number(event.id.slice(1)) % 2 === 0);
    const between = events.slice(firstLater, firstBack).filter((event) => event.kind === "delivered");
    expect(between.length).toBeGreaterThan(0);
  });

  it("a udf's retryLater, per-message and batch form: the message is mapped again after its delay and reaches the sink once", async () => {
    for (const form of ["message", "batch"] as const) {
      const laterOnce = new Set<string>();
      const later = (entry: Message): boolean => Number(entry.id.slice(1)) % 3 === 0 && !laterOnce.has(entry.id) && (laterOnce.add(entry.id), true);
      const perMessage = (entry: Message, _context: MapContext) => (later(entry) ? ({ status: "retryLater", delayMs: 50 } as RetryLaterAnswer) : [{ value: entry.value }]);
      const batch = (entries: readonly Message[]) =>
        entries.map((entry) => (later(entry) ? { id: entry.id, status: "retryLater" as const, delayMs: 50 } : { id: entry.id, results: [{ value: entry.value }] }));
      const received: string[] = [];
      const sink = async (entries: readonly Message[]): Promise<SinkAnswer[]> => {
        for (const entry of entries) {
          received.push(entry.id);
          expect(Object.keys(entry.headers).filter((name) => name.startsWith("x-weir-")), "runtime headers stay inside the runtime").toEqual([]);
        }
        return entries.map((entry) => ({ id: entry.id, status: "ok" }));
      };
      const summary = await createPipeline(spec({ udf: true }), {
        sources: { in: listSource(messages(90)) },
        udfs: { map: form === "message" ? perMessage : { batch } },
        sinks: { out: sink },
      }).start();
      expect(summary.status, form).toBe("completed");
      expect(received.sort(), form).toEqual(messages(90).map((entry) => entry.id).sort());
      expect(summary.vertices["map"], form).toMatchObject({ ok: 90, retriedLater: 30 });
    }
  });

  it("retryLater past the retry strategy's steps ends per onFailure: fallback with the reason, or dropped and counted", async () => {
    const always = async (entries: readonly Message[]): Promise<SinkAnswer[]> => entries.map((entry) => ({ id: entry.id, status: "retryLater", delayMs: 1 }));
    const file = path.join(dir, "fallback.jsonl");
    const fallback = await createPipeline(
      spec({ retryStrategy: { backoff: { steps: 3 }, onFailure: "fallback" }, fallback: { jsonl: { path: file } } }),
      { sources: { in: listSource(messages(10)) }, sinks: { out: always } },
    ).start();
    expect(fallback.status).toBe("completed");
    // Attempts 1 and 2 parked the message; attempt 3 exhausted the steps.
    expect(fallback.vertices["out"]).toMatchObject({ ok: 0, fallback: 10, dropped: 0, retriedLater: 20 });
    const lines = (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { id: string; headers: Record<string, string> });
    expect(lines.map((line) => line.id).sort()).toEqual(messages(10).map((entry) => entry.id).sort());
    expect(lines[0]!.headers["x-weir-fallback-reason"]).toMatch(/answered retryLater at attempt 3 of 3/);

    const dropped = await createPipeline(spec({ retryStrategy: { backoff: { steps: 2 }, onFailure: "drop" } }), {
      sources: { in: listSource(messages(10)) },
      sinks: { out: always },
    }).start();
    expect(dropped.status).toBe("completed");
    expect(dropped.vertices["out"]).toMatchObject({ ok: 0, fallback: 0, dropped: 10, retriedLater: 10 });
  });

  it("a retryLater without a usable delayMs is a failure that names the field", async () => {
    const bad = async (entries: readonly Message[]): Promise<SinkAnswer[]> => entries.map((entry) => ({ id: entry.id, status: "retryLater", delayMs: -5 }));
    const file = path.join(dir, "bad-delay.jsonl");
    const summary = await createPipeline(spec({ retryStrategy: { backoff: { steps: 1 }, onFailure: "fallback" }, fallback: { jsonl: { path: file } } }), {
      sources: { in: listSource(messages(3)) },
      sinks: { out: bad },
    }).start();
    expect(summary.vertices["out"]).toMatchObject({ fallback: 3, retriedLater: 0 });
    expect(await readFile(file, "utf8")).toMatch(/retryLater needs delayMs/);
  });
});
