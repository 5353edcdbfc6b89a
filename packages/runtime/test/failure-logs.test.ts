/**
 * Issue #10 item 9 and issue #11 (Logs): failures are never silent and never one line per
 * attempt. A udf that returns the wrong shape fails that message like a throw (retried, then
 * routed by onFailure); udf and sink failures, and the drops they end in, are logged as a few
 * aggregated lines per vertex: count, first and last reason, attempts.
 */
import { describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type MapResult, type PipelineSpecInput } from "@weir/runtime";
import { createJsonLogger } from "../src/observability/logger.js";

type Vertices = PipelineSpecInput["spec"]["vertices"];
type Edges = PipelineSpecInput["spec"]["edges"];
type Line = { level: string; msg: string; vertex?: string; count?: number; firstReason?: string; lastReason?: string; attempts?: number | string };

const generator = (total: number) => ({ generator: { total, rpu: 10_000_000, duration: "1s", msgSize: 16 } });
const spec = (vertices: Vertices, edges: Edges) =>
  parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "logs" }, spec: { limits: { readBatchSize: 100, readTimeout: "10ms" }, vertices, edges } }, process.cwd());

function capture() {
  const lines: Line[] = [];
  const logger = createJsonLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line) as Line) });
  return { lines, logger, about: (vertex: string, msg: RegExp) => lines.filter((line) => line.vertex === vertex && msg.test(line.msg)) };
}

const sum = (lines: readonly Line[]) => lines.reduce((total, line) => total + (line.count ?? 0), 0);
// One line per vertex and kind per 5 s interval, plus the last at the end of the run.
const fewLines = (durationMs: number) => Math.ceil(durationMs / 5_000) + 1;

describe("failure logs", () => {
  it.each([
    { shape: "a string", answer: "text" as unknown, reason: /returned a string/ },
    { shape: "undefined", answer: undefined as unknown, reason: /returned undefined/ },
    { shape: "results without value", answer: [{ val: 1 }] as unknown, reason: /has no value/ },
  ])("a udf returning $shape fails each message, retried, dropped and logged in a few lines", async ({ answer, reason }) => {
    const total = 300;
    const { lines, logger, about } = capture();
    let calls = 0;
    const udf = (): readonly MapResult[] => {
      calls += 1;
      return answer as readonly MapResult[];
    };
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(total) },
          { name: "map", udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "1ms", steps: 2 } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        [{ from: "in", to: "map" }, { from: "map", to: "out" }],
      ),
      { logger, udfs: { map: udf } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    // Retried like a throw: two attempts each, then dropped (a map vertex without fallback).
    expect(calls).toBe(total * 2);
    expect(summary.vertices["map"]).toMatchObject({ ok: 0, dropped: total });
    const failed = about("map", /^udf failed/);
    expect(sum(failed)).toBe(total * 2);
    expect(failed.length).toBeLessThanOrEqual(fewLines(summary.durationMs));
    expect(failed[0]!.firstReason).toMatch(reason);
    const dropped = about("map", /^messages dropped/);
    expect(sum(dropped)).toBe(total);
    expect(dropped[0]!.firstReason).toMatch(reason);
    expect(lines.length).toBeLessThanOrEqual(2 * fewLines(summary.durationMs));
  });

  it("a batch udf returning a string fails each of its messages with that reason, logged", async () => {
    const { logger, about } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(100) },
          { name: "map", udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "1ms", steps: 1 } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        [{ from: "in", to: "map" }, { from: "map", to: "out" }],
      ),
      { logger, udfs: { map: { batch: () => "text" as never } } },
    );
    const summary = await pipeline.start();
    expect(summary.vertices["map"]).toMatchObject({ ok: 0, dropped: 100 });
    const failed = about("map", /^udf failed/);
    expect(sum(failed)).toBe(100);
    expect(failed[0]!.firstReason).toMatch(/the batch udf returned a string/);
  });

  it("a sink failing 100 messages on each of 3 attempts writes a few lines with the count, reasons and attempts", async () => {
    const total = 500;
    const { logger, about } = capture();
    const failing = (message: Message) => Number(message.id.split("-").pop()) % 5 === 0;
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((message): SinkResult => (failing(message) ? { id: message.id, status: "failure", error: `no room for ${message.id}` } : { id: message.id, status: "ok" }));
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(total) },
          { name: "out", sink: { blackhole: {}, retryStrategy: { backoff: { interval: "1ms", steps: 3 }, onFailure: "drop" } } },
        ],
        [{ from: "in", to: "out" }],
      ),
      { logger, sinks: { out: sink } },
    );
    const summary = await pipeline.start();
    expect(summary.vertices["out"]).toMatchObject({ ok: 400, dropped: 100 });
    const failed = about("out", /^sink failed/);
    expect(sum(failed)).toBe(300);
    expect(failed.length).toBeLessThanOrEqual(fewLines(summary.durationMs));
    expect(failed[0]!.firstReason).toMatch(/no room for in-0-/);
    expect(failed.map((line) => String(line.attempts)).join()).toMatch(/3/);
    const dropped = about("out", /^messages dropped/);
    expect(sum(dropped)).toBe(100);
    expect(dropped[0]!.firstReason).toMatch(/retries exhausted \(onFailure: drop\); last failure: .*no room for/);
  });

  it("a message no edge takes is dropped, counted and logged", async () => {
    const { logger, about } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(50) },
          { name: "map", udf: { builtin: { name: "cat" } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        [{ from: "in", to: "map" }, { from: "map", to: "out", conditions: { tags: { operator: "or", values: ["keep"] } } }],
      ),
      { logger, udfs: { map: (message) => [{ value: message.value, tags: ["skip"] }] } },
    );
    const summary = await pipeline.start();
    expect(summary.vertices["map"]).toMatchObject({ dropped: 50 });
    const dropped = about("map", /^messages dropped/);
    expect(sum(dropped)).toBe(50);
    expect(dropped[0]!.firstReason).toMatch(/no edge's condition matched a result with tags \[skip\]/);
  });
});
