import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type RunSummary } from "../src/index.js";
import { createPipelineMetrics } from "../src/observability/pipeline-metrics.js";
import { ensureBuilt, freePort, parseMetrics, sleep, startWeir, sumMetric } from "./support/weir-cli.js";

const vertexTotals = (values: Map<string, number>, vertex: string) => ({
  read: sumMetric(values, "forwarder_read_total", { vertex }),
  acked: sumMetric(values, "forwarder_ack_total", { vertex }),
  written: sumMetric(values, "forwarder_write_total", { vertex }),
  fallback: sumMetric(values, "forwarder_fbsink_write_total", { vertex }),
  protocolErrors: sumMetric(values, "weir_protocol_error_total", { vertex }),
});

describe("pipeline metrics", () => {
  it("count per partition what the run's summary counts per vertex", async () => {
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "metered" },
        spec: {
          buffer: { type: "memory" },
          limits: { readBatchSize: 40, readTimeout: "10ms" },
          vertices: [
            { name: "in", source: { generator: { total: 1000, rpu: 20000, duration: "1s", msgSize: 24, keyCount: 0 } } },
            { name: "cat", partitions: 2, udf: { builtin: { name: "cat" } } },
            {
              name: "out",
              partitions: 3,
              sink: { blackhole: {}, retryStrategy: { backoff: { interval: "1ms", steps: 2 }, onFailure: "fallback" }, fallback: { blackhole: {} } },
            },
          ],
          edges: [{ from: "in", to: "cat" }, { from: "cat", to: "out" }],
        },
      },
      tmpdir(),
    );
    // Messages ending in 3 always fail (they go to the fallback); the first batch gets a duplicate result.
    let duplicated = false;
    const sink = async (messages: readonly { id: string }[]): Promise<SinkResult[]> => {
      const results: SinkResult[] = messages.map((m) => (m.id.endsWith("3") ? { id: m.id, status: "failure", error: "no" } : { id: m.id, status: "ok" }));
      if (!duplicated && results.length > 1) {
        duplicated = true;
        results.push(results[0]!);
      }
      return results;
    };
    let pipeline: ReturnType<typeof createPipeline> | undefined;
    const metrics = createPipelineMetrics({
      pipeline: "metered",
      processMetrics: false,
      counts: () => pipeline?.counts() ?? {},
      bufferUsage: () => pipeline?.bufferUsage() ?? Promise.resolve([]),
    });
    pipeline = createPipeline(spec, { inspect: metrics.inspect, sinks: { out: sink } });
    const running = pipeline.start();
    // A scrape while the run is on reads every input buffer partition's fill.
    while (pipeline.actors.size < 3) await new Promise((resolve) => setTimeout(resolve, 1));
    const during = parseMetrics(await metrics.metrics());
    for (const p of ["0", "1", "2"]) expect(during.has(`buffer_usage{pipeline="metered",vertex="out",partition="${p}"}`)).toBe(true);
    expect(during.has(`buffer_pending{pipeline="metered",vertex="cat",partition="1"}`)).toBe(true);
    const summary = await running;
    expect(summary.status).toBe("completed");
    const values = parseMetrics(await metrics.metrics());

    for (const vertex of ["in", "cat", "out"]) {
      const counts = summary.vertices[vertex]!;
      expect(vertexTotals(values, vertex), vertex).toEqual({
        read: counts.read,
        acked: counts.acked,
        written: vertex === "out" ? counts.written : counts.ok,
        fallback: counts.fallback,
        protocolErrors: counts.protocolErrors,
      });
    }
    expect(summary.vertices["out"]!.fallback).toBeGreaterThan(0);
    expect(summary.vertices["out"]!.protocolErrors).toBeGreaterThan(0);
    for (const p of ["0", "1", "2"]) expect(values.get(`forwarder_read_total{pipeline="metered",vertex="out",partition="${p}"}`)).toBeGreaterThan(0);
    expect(sumMetric(values, "weir_protocol_error_total", { code: "DUPLICATE_RESULT" })).toBe(summary.vertices["out"]!.protocolErrors);
    expect(sumMetric(values, "weir_epoch_commit_total", { vertex: "out" })).toBeGreaterThan(0);
    // One join per committed epoch (aligned commit: every epoch holds all three partitions).
    expect(sumMetric(values, "weir_epoch_join_wait_seconds_count", { vertex: "out" })).toBe(sumMetric(values, "weir_epoch_commit_total", { vertex: "out", partition: "0" }));
    // Every sink attempt is timed, all-ok answers (forwarders') included.
    expect(sumMetric(values, "forwarder_write_processing_time_seconds_count", { vertex: "out" })).toBeGreaterThan(0);
    expect(sumMetric(values, "forwarder_write_processing_time_seconds_count", { vertex: "cat" })).toBeGreaterThan(0);
    expect(sumMetric(values, "weir_inflight_messages")).toBe(0);
    expect(sumMetric(values, "forwarder_critical_error_total")).toBe(0);
  });
});

describe("weir run --metrics-port", () => {
  let dir: string;
  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-metrics-"));
    await writeFile(
      path.join(dir, "metered.yaml"),
      `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: metered }
spec:
  buffer: { type: memory }
  limits: { readBatchSize: 20, readTimeout: 30ms }
  vertices:
    - name: in
      source: { generator: { total: 400, rpu: 250, duration: 1s, msgSize: 16, keyCount: 4 } }
    - name: out
      partitions: 2
      sink: { blackhole: {} }
  edges:
    - { from: in, to: out }
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("count what discardLatest dropped per partition of the full buffer (buffer_discard_total)", async () => {
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "spilling" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { total: 3000, rpu: 1_000_000, duration: "1s", keyCount: 0 } } },
            { name: "out", partitions: 2, limits: { bufferMaxLength: 100, readBatchSize: 10, onFull: "discardLatest" }, sink: { blackhole: {} } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      tmpdir(),
    );
    const slow = async (messages: readonly { id: string }[]): Promise<SinkResult[]> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return messages.map((m) => ({ id: m.id, status: "ok" as const }));
    };
    let pipeline: ReturnType<typeof createPipeline> | undefined;
    const metrics = createPipelineMetrics({ pipeline: "spilling", processMetrics: false, counts: () => pipeline?.counts() ?? {}, discards: () => pipeline?.discards() ?? {} });
    pipeline = createPipeline(spec, { inspect: metrics.inspect, sinks: { out: slow } });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const dropped = summary.vertices["in"]!.dropped;
    expect(dropped).toBeGreaterThan(0);
    const values = parseMetrics(await metrics.metrics());
    const perPartition = pipeline.discards()["out"]!;
    for (const p of [0, 1]) expect(values.get(`buffer_discard_total{pipeline="spilling",vertex="out",partition="${p}"}`) ?? 0).toBe(perPartition[p]);
    expect(perPartition[0]! + perPartition[1]!).toBe(dropped);
    // A second scrape adds nothing: the counter follows the pipeline's count, it does not re-add it.
    expect(parseMetrics(await metrics.metrics()).get(`buffer_discard_total{pipeline="spilling",vertex="out",partition="0"}`) ?? 0).toBe(perPartition[0]);
  });

  it("serves /metrics on 127.0.0.1 during the run and, with --metrics-linger, after it, matching the summary", async () => {
    const port = await freePort();
    const run = startWeir(["run", path.join(dir, "metered.yaml"), "--json", "--metrics-port", String(port), "--metrics-linger", "20s"]);
    await run.waitFor(/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/, "stderr");
    const url = `http://127.0.0.1:${port}/metrics`;

    // During the run: counters appear and grow.
    let during = 0;
    for (let i = 0; i < 40 && during === 0; i += 1) {
      const values = parseMetrics(await (await fetch(url)).text());
      during = sumMetric(values, "forwarder_read_total", { vertex: "out" });
      if (during === 0) await sleep(50);
    }
    expect(during).toBeGreaterThan(0);

    const summary = JSON.parse(await run.waitFor(/^\{"status"/)) as RunSummary;
    const response = await fetch(url);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const values = parseMetrics(await response.text());
    for (const vertex of ["in", "out"]) {
      const counts = summary.vertices[vertex]!;
      expect(vertexTotals(values, vertex), vertex).toEqual({ read: counts.read, acked: counts.acked, written: counts.ok, fallback: 0, protocolErrors: 0 });
    }
    expect(values.get('forwarder_ack_total{pipeline="metered",vertex="out",partition="1"}')).toBeGreaterThan(0);
    expect(sumMetric(values, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    // A signal ends the linger at once.
    await run.waitFor(/serving metrics for 20s more/, "stderr");
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});
