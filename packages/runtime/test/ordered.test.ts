/**
 * Ordered processing per key (issue #15 part 2) on the in-memory buffer: a sink and a udf that
 * fail a random 10 % of messages on their first try. With `ordered`, every key's messages reach
 * the udf and the sink in the source's order, and none is lost; without it, the retries arrive
 * after later messages of their key (the control case, so the check is known to bite).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Message, SinkAnswer, SinkContext, SinkResult } from "@weir/actors";
import { createRandom } from "@weir/testkit";
import { createPipeline, parseSpec, type MapContext, type MapResult, type PipelineSpecInput, type RetryLaterAnswer } from "@weir/runtime";
import { checkOrder, seqOf, type Arrival } from "./support/order-check.js";

const TOTAL = 4_000;
const KEYS = 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function spec(options: { ordered: boolean; map: boolean }) {
  const vertices: PipelineSpecInput["spec"]["vertices"] = [
    { name: "in", source: { generator: { total: TOTAL, rpu: 10_000_000, duration: "1s", msgSize: 32, keyCount: KEYS } } },
    ...(options.map ? [{ name: "map", partitions: 3, udf: { builtin: { name: "cat" as const } }, retryStrategy: { onFailure: "retry" as const } }] : []),
    { name: "out", partitions: 4, sink: { module: { path: "./unused.js" } } },
  ];
  const edges = options.map
    ? [
        { from: "in", to: "map" },
        { from: "map", to: "out" },
      ]
    : [{ from: "in", to: "out" }];
  return parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "ordered" },
      spec: { limits: { readBatchSize: 200, readTimeout: "10ms" }, vertices, edges, ...(options.ordered ? { ordered: { enabled: true } } : {}) },
    },
    process.cwd(),
  );
}

/** A sink that fails a random 10 % of ids the first time it sees them, and records the rest as arrivals. */
function flakySink(seed: number) {
  const random = createRandom(seed);
  const tried = new Set<string>();
  const arrivals: Arrival[] = [];
  const write = async (messages: readonly Message[], _context: SinkContext): Promise<SinkResult[]> => {
    await sleep(random.int(0, 2));
    return messages.map((message): SinkResult => {
      const first = !tried.has(message.id);
      tried.add(message.id);
      if (first && random.chance(0.1)) return { id: message.id, status: "failure", error: "first try fails (test)" };
      arrivals.push({ key: message.keys[0]!, seq: seqOf(message.value), id: message.id });
      return { id: message.id, status: "ok" };
    });
  };
  return { write, arrivals };
}

describe("ordered processing per key (memory buffer)", () => {
  it("a sink failing 10 % on first try: every key's messages arrive in source order, none lost", async () => {
    const sink = flakySink(15_2);
    const summary = await createPipeline(spec({ ordered: true, map: false }), { sinks: { out: sink.write } }).start();
    expect(summary.status).toBe("completed");
    const report = checkOrder(sink.arrivals);
    expect(report.examples).toEqual([]);
    expect(report).toMatchObject({ arrived: TOTAL, duplicates: 0, inversions: 0 });
    expect(summary.vertices["out"]).toMatchObject({ ok: TOTAL, fallback: 0, dropped: 0 });
  });

  it("control: without ordered the same sink sees its retries after later messages of their key", async () => {
    const sink = flakySink(15_2);
    const summary = await createPipeline(spec({ ordered: false, map: false }), { sinks: { out: sink.write } }).start();
    expect(summary.status).toBe("completed");
    expect(checkOrder(sink.arrivals).inversions).toBeGreaterThan(0);
  });

  it("a udf failing 10 % on first try: one call per key at a time, in order, and the sink sees source order", async () => {
    const random = createRandom(15_3);
    const tried = new Set<string>();
    const inFlight = new Set<string>();
    let overlaps = 0;
    const mapped: Arrival[] = [];
    const udf = async (message: Message, _context: MapContext): Promise<MapResult[]> => {
      const key = message.keys[0]!;
      if (inFlight.has(key)) overlaps += 1;
      inFlight.add(key);
      try {
        await sleep(random.int(0, 2));
        const first = !tried.has(message.id);
        tried.add(message.id);
        if (first && random.chance(0.1)) throw new Error("first try fails (test)");
        mapped.push({ key, seq: seqOf(message.value), id: message.id });
        return [{ value: message.value }];
      } finally {
        inFlight.delete(key);
      }
    };
    const sink = flakySink(15_4);
    const summary = await createPipeline(spec({ ordered: true, map: true }), { udfs: { map: udf }, sinks: { out: sink.write } }).start();
    expect(summary.status).toBe("completed");
    expect(overlaps).toBe(0);
    expect(checkOrder(mapped)).toMatchObject({ arrived: TOTAL, inversions: 0 });
    expect(checkOrder(sink.arrivals)).toMatchObject({ arrived: TOTAL, duplicates: 0, inversions: 0, examples: [] });
    expect(summary.vertices["map"]).toMatchObject({ ok: TOTAL, dropped: 0 });
  });

  it("control: without ordered the udf's retries reach the sink after later messages of their key", async () => {
    const tried = new Set<string>();
    const random = createRandom(15_3);
    const udf = async (message: Message): Promise<MapResult[]> => {
      const first = !tried.has(message.id);
      tried.add(message.id);
      if (first && random.chance(0.1)) throw new Error("first try fails (test)");
      return [{ value: message.value }];
    };
    const arrivals: Arrival[] = [];
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((message) => (arrivals.push({ key: message.keys[0]!, seq: seqOf(message.value), id: message.id }), { id: message.id, status: "ok" }));
    const summary = await createPipeline(spec({ ordered: false, map: true }), { udfs: { map: udf }, sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(checkOrder(arrivals).inversions).toBeGreaterThan(0);
  });

  it("retryLater under ordered: a sink's and a udf's are retried within the epoch, so no key is overtaken and nothing is parked", async () => {
    const random = createRandom(15_5);
    const udfTried = new Set<string>();
    const sinkTried = new Set<string>();
    const udf = async (message: Message): Promise<MapResult[] | RetryLaterAnswer> => {
      const first = !udfTried.has(message.id);
      udfTried.add(message.id);
      return first && random.chance(0.1) ? { status: "retryLater", delayMs: 60_000 } : [{ value: message.value }];
    };
    const arrivals: Arrival[] = [];
    const sink = async (messages: readonly Message[]): Promise<SinkAnswer[]> =>
      messages.map((message): SinkAnswer => {
        const first = !sinkTried.has(message.id);
        sinkTried.add(message.id);
        if (first && random.chance(0.1)) return { id: message.id, status: "retryLater", delayMs: 60_000 };
        arrivals.push({ key: message.keys[0]!, seq: seqOf(message.value), id: message.id });
        return { id: message.id, status: "ok" };
      });
    const summary = await createPipeline(spec({ ordered: true, map: true }), { udfs: { map: udf }, sinks: { out: sink as (messages: readonly Message[]) => Promise<SinkResult[]> } }).start();
    expect(summary.status).toBe("completed");
    expect(checkOrder(arrivals)).toMatchObject({ arrived: TOTAL, duplicates: 0, inversions: 0, examples: [] });
    expect(summary.vertices["map"]).toMatchObject({ ok: TOTAL, retriedLater: 0 });
    expect(summary.vertices["out"]).toMatchObject({ ok: TOTAL, retriedLater: 0 });
  });

  it("a message that ends in the fallback unblocks its key: the rest of the key arrives, in order", async () => {
    const arrivals: Arrival[] = [];
    // Every 10th message is answered fallback; the sink has no fallback sink: logged, counted fallback.
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> =>
      messages.map((message): SinkResult => {
        const seq = seqOf(message.value);
        if (seq % 10 === 3) return { id: message.id, status: "fallback", reason: "test" };
        arrivals.push({ key: message.keys[0]!, seq, id: message.id });
        return { id: message.id, status: "ok" };
      });
    const summary = await createPipeline(spec({ ordered: true, map: false }), { sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: TOTAL - TOTAL / 10, fallback: TOTAL / 10 });
    expect(checkOrder(arrivals)).toMatchObject({ arrived: TOTAL - TOTAL / 10, inversions: 0 });
  });

  it("a process udf (Python) is sent one exchange per wave, with the attempt's epoch and attempt numbers", async () => {
    const mapDir = fileURLToPath(new URL("../../../examples/python-map/", import.meta.url));
    const loaded = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "ordered-process" },
        spec: {
          ordered: { enabled: true },
          limits: { readBatchSize: 100, readTimeout: "10ms" },
          vertices: [
            { name: "in", source: { generator: { total: 600, rpu: 10_000_000, duration: "1s", msgSize: 32, keyCount: 5 } } },
            { name: "double", partitions: 2, udf: { process: { command: ["python3", "map.py"], cwd: mapDir } } },
            { name: "out", sink: { module: { path: "./unused.js" } } },
          ],
          edges: [
            { from: "in", to: "double" },
            { from: "double", to: "out" },
          ],
        },
      },
      process.cwd(),
    );
    const seen: string[] = [];
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => messages.map((m) => (seen.push(m.id), { id: m.id, status: "ok" }));
    const summary = await createPipeline(loaded, { sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    // map.py filters out every seq that is a multiple of 10.
    expect(new Set(seen).size).toBe(540);
    expect(summary.vertices["double"]).toMatchObject({ ok: 600, protocolErrors: 0, dropped: 0 });
  });
});
