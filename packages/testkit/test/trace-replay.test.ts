import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromSinkAttempts, sinkSessionMachine, supervisorMachine, type SinkIoEvent, type SinkResult, type SinkWriteInput } from "@weir/actors";
import { createPipeline, createTraceFileWriter, createTraceRecorder, parseSpec, type SinkConnector } from "@weir/runtime";
import { recordTrace, replayTrace } from "@weir/testkit";

/**
 * A sink for vertex `out` that misbehaves on purpose, once each:
 * - every message whose sequence number is divisible by 7 fails its first attempt (a retry);
 * - the first attempt that has at least two messages gets one result twice (a protocol error).
 */
function misbehavingSink(): SinkConnector & { readonly attempts: SinkWriteInput[] } {
  const attempts: SinkWriteInput[] = [];
  const failedOnce = new Set<string>();
  let duplicated = false;
  const writer = fromSinkAttempts((input, sendBack) => {
    attempts.push(input);
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    sendBack({ type: "sinkIo.sent", ...frame } satisfies SinkIoEvent);
    const timer = setTimeout(() => {
      const results: SinkResult[] = input.messages.map((message) => {
        const seq = Number(message.id.split("-").at(-1));
        if (seq % 7 === 0 && !failedOnce.has(message.id)) {
          failedOnce.add(message.id);
          return { id: message.id, status: "failure", error: "scripted first-attempt failure" };
        }
        return { id: message.id, status: "ok" };
      });
      if (!duplicated && results.length >= 2) {
        duplicated = true;
        results.push(results[0]!);
      }
      sendBack({ type: "sinkIo.results", ...frame, results } satisfies SinkIoEvent);
      sendBack({ type: "sinkIo.endOfResults", ...frame } satisfies SinkIoEvent);
    }, 1);
    return () => clearTimeout(timer);
  });
  return { writer, attempts, close: async () => undefined };
}

const spec = () =>
  parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "traced" },
      spec: {
        buffer: { type: "memory" },
        limits: { readBatchSize: 8, readTimeout: "10ms" },
        vertices: [
          // A slow trickle, so epochs close on their timer as well as when full.
          { name: "in", source: { generator: { total: 60, rpu: 400, duration: "1s", msgSize: 16, keyCount: 4 } } },
          {
            name: "out",
            partitions: 2,
            sink: { blackhole: {}, retryStrategy: { backoff: { interval: "3ms", factor: 2, steps: 4 }, onFailure: "retry" } },
          },
        ],
        edges: [{ from: "in", to: "out" }],
      },
    },
    tmpdir(),
  );

/** Whether the supervisor's epoch timer fired in the recorded run. */
function closedOnTimer(trace: ReturnType<typeof recordTrace>): boolean {
  return trace.records().some((record) => record.k === "fire" && record.e === "supervisor.epochTimeout");
}

async function recordRun() {
  const trace = recordTrace({ pipeline: "traced" });
  const sink = misbehavingSink();
  const pipeline = createPipeline(spec(), { inspect: trace.inspect, sinks: { out: sink } });
  const summary = await pipeline.start();
  trace.end();
  return { trace, summary, sink };
}

describe("trace recording and replay", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("replays a real run with retries, a protocol error and timers step for step", async () => {
    const { trace, summary } = await recordRun();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]!.protocolErrors).toBeGreaterThanOrEqual(1);
    const records = trace.records();
    // The run did what the test is about: retried, redrove after a protocol error, fired timers.
    // One long-lived writer per sink session: a retry shows as the writer's answers for attempt 2+.
    expect(records.some((r) => r.k === "io" && r.src === "sinkWriter" && (r.e as { attempt?: number }).attempt! > 1)).toBe(true);
    expect(records.some((r) => r.k === "snap" && r.a.startsWith("out/sink/") && JSON.stringify(r.v) === '"protocolError"')).toBe(true);
    expect(records.some((r) => r.k === "fire" && r.e === "supervisor.epochTimeout")).toBe(true);
    expect(records.some((r) => r.k === "fire" && r.e.startsWith("xstate.after.retryBackoff"))).toBe(true);
    for (const p of [0, 1]) {
      for (const role of ["reader", "batcher", "sink"]) expect(records.some((r) => r.k === "snap" && r.a === `out/${role}/${p}`)).toBe(true);
    }

    const result = await replayTrace(trace);
    expect(result.divergence?.diff).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.checked).toBeGreaterThan(100);
  });

  it("names the actor and the step where a changed machine diverges", async () => {
    const { trace } = await recordRun();
    // A session that never retries: the first failed result now ends the epoch instead.
    const noRetries = sinkSessionMachine.provide({ guards: { canRetry: () => false } });
    const result = await replayTrace(trace, { sinkSession: noRetries });
    expect(result.ok).toBe(false);
    const divergence = result.divergence!;
    expect(divergence.actor).toMatch(/^out\/sink\/[01]$/);
    expect(divergence.machine).toBe("sinkSession");
    expect(divergence.step).toBeGreaterThan(1);
    expect(divergence.diff).toContain(`actor ${divergence.actor} (sinkSession), step ${divergence.step}`);
    expect(divergence.diff).toMatch(/\n {2}- step \d+ +\S/);
    expect(divergence.diff).toMatch(/\n {2}\+ step \d+ +\S/);
  });

  it("diverges on a changed supervisor guard and on a changed retry policy input", async () => {
    // The change below is visible only if some epoch closed on its timer; on a busy machine the
    // trickle can arrive in bursts that fill every epoch, so record until a run has such a close.
    let { trace } = await recordRun();
    for (let runs = 1; !closedOnTimer(trace) && runs < 20; runs++) ({ trace } = await recordRun());
    expect(closedOnTimer(trace), "no recorded run closed an epoch on its timer").toBe(true);
    // A supervisor that closes an epoch only when a batch is full, never on its timer.
    const fullOnly = supervisorMachine.provide({
      guards: { timeoutCloses: () => false, timeoutRequests: () => false },
      actions: { requestCloseOnTimeout: () => undefined },
    });
    const bySupervisor = await replayTrace(trace, { supervisor: fullOnly });
    expect(bySupervisor.ok).toBe(false);
    expect(bySupervisor.divergence!.actor).toMatch(/^(in|out)$/);
    expect(bySupervisor.divergence!.machine).toBe("supervisor");

    // The same machines with a slower backoff: the retry timer's delay no longer matches.
    const slower = await replayTrace(trace, undefined, {
      mapInput: (root, _machine, input) =>
        root === "out" ? { ...(input as object), retry: { ...(input as { retry: object }).retry, intervalMs: 30 } } : input,
    });
    expect(slower.ok).toBe(false);
    expect(slower.divergence!.actor).toMatch(/^out\/sink\/[01]$/);
    expect(slower.divergence!.replayed).toMatch(/sets timer xstate\.after\.retryBackoff/);
  });

  it("replays runs ended from outside: a drain (an external event) and a stop", async () => {
    for (const end of ["drain", "stop"] as const) {
      const endless = parseSpec(
        {
          apiVersion: "weir.dev/v1",
          kind: "Pipeline",
          metadata: { name: "endless" },
          spec: {
            buffer: { type: "memory" },
            limits: { readBatchSize: 8, readTimeout: "5ms" },
            vertices: [
              { name: "in", source: { generator: { rpu: 2000, duration: "1s", msgSize: 16, keyCount: 4 } } },
              { name: "out", partitions: 2, sink: { blackhole: {} } },
            ],
            edges: [{ from: "in", to: "out" }],
          },
        },
        tmpdir(),
      );
      const trace = recordTrace();
      const slowSink = async (messages: readonly { id: string }[]): Promise<SinkResult[]> => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return messages.map((message) => ({ id: message.id, status: "ok" }));
      };
      const pipeline = createPipeline(endless, { inspect: trace.inspect, sinks: { out: slowSink } });
      setTimeout(() => (end === "drain" ? pipeline.drain() : pipeline.stop("stopped by the test")), 100);
      const summary = await pipeline.start();
      trace.end();
      expect(summary.status).toBe(end === "drain" ? "drained" : "failed");
      const records = trace.records();
      if (end === "drain") expect(records.some((r) => r.k === "send" && r.e.type === "pipeline.drain")).toBe(true);
      else expect(records.filter((r) => r.k === "stop").map((r) => r.a).sort()).toEqual(["in", "out"]);
      const result = await replayTrace(trace);
      expect(result.divergence?.diff, end).toBeUndefined();
    }
  });

  it("streams a trace to a file and replays it from the file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "weir-trace-"));
    dirs.push(dir);
    const file = path.join(dir, "run.trace.jsonl");
    const writer = createTraceFileWriter(file, { chunkBytes: 4096, maxQueueBytes: 16 * 1024 });
    const recorder = createTraceRecorder({ write: writer.write, payloads: "base64", pipeline: "traced" });
    const summary = await createPipeline(spec(), { inspect: recorder.inspect, sinks: { out: misbehavingSink() } }).start();
    recorder.end({ summary });
    const stats = await writer.close();
    expect(stats.error).toBeNull();
    expect(stats.elided).toBe(0);
    expect(stats.lines).toBe(recorder.stats().records);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(stats.lines);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ k: "end", elided: 0 });
    // Message bodies were kept, base64-encoded.
    expect(lines.some((line) => line.includes('"$entries"') && line.includes('"values":["'))).toBe(true);
    expect((await replayTrace(file)).ok).toBe(true);
  });
});
