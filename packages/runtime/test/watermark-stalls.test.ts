/**
 * Named regressions for Numaflow's "the watermark stopped moving" reports (issue #13), on the
 * memory buffer. Each case waits for its condition (windows closed and emitted, watermarks past
 * them) with a bound of idleSource.threshold + a few seconds, never for a fixed time.
 *
 * - numaflow #627 ("a partition is idle, reduce is withholding the watermark"): a reduce partition that receives no data at all must not hold
 *   the windows (its own, and the vertex's downstream watermark) open.
 * - numaflow #3002, #2774: a source partition with no data (or whose data stopped) must be
 *   advanced by idleSource, or every window downstream stays open and state grows without bound.
 * - numaflow #3424: event times that jitter (arrive slightly out of order) must not stall the
 *   source's watermark: it never goes back, and keeps moving.
 * - numaflow #3645: a reducer (accumulator) that emits nothing for its windows must not stall the
 *   watermark downstream: windows close (state is freed) and the sink's watermark keeps moving.
 * (#3262 and #1606 were not found in the issue corpus this was written from, so no case is named after them.)
 * - slow partition: one partition's udf or sink is slow; windows still close in order and none early (a
 *   window is emitted once, with its full count, so nothing of it arrives after it closed).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import { createPipeline, parseSpec } from "../src/index.js";
import type { MapFunction } from "../src/udf/map-function.js";
import { countOf, listsSource, recordingSink, reduceSpec, timed, waitUntil } from "./support/event-time-run.js";
import { referenceCounts, windowCountsOf } from "./support/window-reference.js";

const THRESHOLD_MS = 300;
const idleSource = { threshold: THRESHOLD_MS, stepInterval: 100, incrementBy: 100 };
/** idleSource.threshold + a few seconds: the acceptance bound of issue #13. */
const BOUND_MS = THRESHOLD_MS + 5_000;

function minWatermark(perPartition: Readonly<Record<number, number>> | undefined, partitions: number): number | undefined {
  if (perPartition === undefined) return undefined;
  let min = Number.POSITIVE_INFINITY;
  for (let p = 0; p < partitions; p += 1) {
    const watermark = perPartition[p];
    if (watermark === undefined) return undefined;
    min = Math.min(min, watermark);
  }
  return min;
}

describe("watermark stalls (Numaflow's reports) on the memory buffer", () => {
  it("idle reduce partition (numaflow #627): with one key over 4 reduce partitions, windows close and are emitted, and the sink's watermark passes them", async () => {
    const { sink, results } = recordingSink();
    const spec = reduceSpec({
      source: { generator: { rpu: 400, duration: "1s", keyCount: 1 } },
      reducePartitions: 4,
      window: { fixed: { length: 100 } },
      watermark: { maxDelay: 0, idleSource },
    });
    const pipeline = createPipeline(parseSpec(spec, "/base"), { sinks: { out: sink } });
    const run = pipeline.start();
    try {
      // One key: a single reduce partition gets every message, three get none at all.
      await waitUntil(
        "a closed window downstream and every reduce and sink partition's watermark past it",
        () => {
          const first = results()[0];
          if (first === undefined) return false;
          const { end } = countOf(first);
          const reduce = minWatermark(pipeline.watermarks()["counts"], 4);
          const out = minWatermark(pipeline.watermarks()["out"], 2);
          return reduce !== undefined && reduce >= end - 1 && out !== undefined && out >= end - 1;
        },
        BOUND_MS,
        () => ({ results: results().length, watermarks: pipeline.watermarks() }),
      );
      const counted = results().map(countOf);
      expect(new Set(counted.map((count) => JSON.stringify(count.keys)))).toEqual(new Set([JSON.stringify(["key-0"])]));
      expect(pipeline.counts()["counts"]?.late).toBe(0);
    } finally {
      pipeline.stop();
      await run;
    }
  });

  it("idle source partition (numaflow #3002, #2774): a source partition with no data is advanced by idleSource, and every window closes with its full count", async () => {
    const base = Math.floor((Date.now() - 2_000) / 100) * 100;
    const messages = Array.from({ length: 100 }, (_, i) => timed(`m${i}`, [`k${i % 5}`], base + i * 10));
    // Partition 0 has data then goes quiet; partition 1 never has any. Neither ends.
    const { source } = listsSource([messages, []], { open: [0, 1] });
    const { sink, results } = recordingSink();
    const spec = reduceSpec({ source: { generator: { total: 1 } }, reducePartitions: 3, window: { fixed: { length: 200 } }, watermark: { maxDelay: 0, idleSource } });
    const pipeline = createPipeline(parseSpec(spec, "/base"), { sources: { in: source }, sinks: { out: sink } });
    const run = pipeline.start();
    const expected = referenceCounts(messages, { fixed: { length: 200 } }, true);
    try {
      await waitUntil("every window of the data emitted", () => Object.keys(windowCountsOf(results())).length === Object.keys(expected).length, BOUND_MS, () => ({
        results: results().length,
        expected: Object.keys(expected).length,
        watermarks: pipeline.watermarks(),
      }));
      expect(windowCountsOf(results())).toEqual(expected);
      expect(pipeline.counts()["counts"]?.late).toBe(0);
    } finally {
      pipeline.stop();
      await run;
    }
  });

  it("jittered event times (numaflow #3424): no partition's committed watermark ever goes back, and it keeps moving: windows close", async () => {
    const { sink, results } = recordingSink();
    const seen = new Map<string, number>();
    const regressions: string[] = [];
    const spec = reduceSpec({
      source: { generator: { rpu: 400, duration: "1s", keyCount: 7, jitter: "150ms" } },
      reducePartitions: 3,
      window: { fixed: { length: 100 } },
      watermark: { maxDelay: 200, idleSource },
    });
    const pipeline = createPipeline(parseSpec(spec, "/base"), {
      sinks: { out: sink },
      onEventTime: (vertex, partition, update) => {
        if (update.watermark === undefined) return;
        const at = `${vertex}/${partition}`;
        const before = seen.get(at);
        if (before !== undefined && update.watermark < before) regressions.push(`${at}: ${before} → ${update.watermark}`);
        seen.set(at, update.watermark);
      },
    });
    const run = pipeline.start();
    try {
      const started = Date.now();
      await waitUntil("windows that started after the run began, closed and emitted", () => results().some((message) => countOf(message).start > started), BOUND_MS, () => ({
        results: results().length,
        watermarks: pipeline.watermarks(),
      }));
      expect(regressions).toEqual([]);
      expect(pipeline.counts()["counts"]?.late).toBe(0);
    } finally {
      pipeline.stop();
      await run;
    }
  });

  it("a reducer that emits nothing (numaflow #3645): windows still close and the downstream watermark keeps moving", async () => {
    const { sink, results } = recordingSink();
    let open = new Map<number, number>();
    const spec = reduceSpec({
      source: { generator: { rpu: 400, duration: "1s", keyCount: 3 } },
      reducePartitions: 2,
      window: { fixed: { length: 100 } },
      reducer: { module: { path: fileURLToPath(new URL("./fixtures/silent-reducer.mjs", import.meta.url)), export: "reduce" } },
      watermark: { maxDelay: 0, idleSource },
    });
    const pipeline = createPipeline(parseSpec(spec, "/base"), {
      sinks: { out: sink },
      onEventTime: (vertex, partition, update) => {
        if (vertex === "counts" && update.openWindows !== undefined) open = new Map(open).set(partition, update.openWindows);
      },
    });
    const run = pipeline.start();
    try {
      const started = Date.now();
      await waitUntil("the sink's watermark 500 ms past the start, though no window emitted anything", () => (minWatermark(pipeline.watermarks()["out"], 2) ?? 0) > started + 500, BOUND_MS, () => ({
        watermarks: pipeline.watermarks(),
        open: [...open],
      }));
      expect(results()).toEqual([]);
      // Closed windows are forgotten: a partition holds only the few windows the watermark has not passed.
      for (const count of open.values()) expect(count).toBeLessThanOrEqual(3 * 2);
    } finally {
      pipeline.stop();
      await run;
    }
  });

  it.each([
    ["its udf", "udf"],
    ["its sink", "sink"],
  ] as const)("slow partition (%s): windows close in order per key, none early — each once, with its full count, nothing late", async (_name, where) => {
    const BASE = 1_700_000_000_000;
    let state = 7;
    const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const messages: Message[] = Array.from({ length: 1_500 }, (_, i) => timed(`m${i}`, [`k${i % 11}`], BASE + i * 2 - Math.floor(random() * 80)));
    const perSource = [messages.filter((_, i) => i % 2 === 0), messages.filter((_, i) => i % 2 === 1)];
    const { source } = listsSource(perSource);
    const recorder = recordingSink();
    const slow = (partition: number) => (partition === 0 ? new Promise((resolve) => setTimeout(resolve, 3)) : undefined);
    const cat: MapFunction = async (message, context) => {
      await slow(context.partition);
      return [{ value: message.value, keys: message.keys }];
    };
    const sink = async (batch: readonly Message[], context: Parameters<typeof recorder.sink>[1]) => {
      await slow(context.partition);
      return recorder.sink(batch, context);
    };
    const spec = reduceSpec({ source: { generator: { total: 1 } }, mapPartitions: 3, reducePartitions: 3, window: { fixed: { length: 100 } }, watermark: { maxDelay: 80 }, readBatchSize: 20 });
    const pipeline = createPipeline(parseSpec(spec, "/base"), {
      sources: { in: source },
      sinks: { out: where === "sink" ? sink : recorder.sink },
      ...(where === "udf" ? { udfs: { cat } } : {}),
    });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: messages.length, late: 0 });
    const results = recorder.results();
    expect(new Set(results.map((message) => message.id)).size).toBe(results.length);
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, { fixed: { length: 100 } }, true));
    // In order: per key, windows reach the sink by rising end (one sink partition per key).
    const ends = new Map<string, number[]>();
    for (const result of results) {
      const { keys, end } = countOf(result);
      ends.set(JSON.stringify(keys), [...(ends.get(JSON.stringify(keys)) ?? []), end]);
    }
    for (const [keys, list] of ends) expect({ keys, ends: list }).toEqual({ keys, ends: [...list].sort((a, b) => a - b) });
  });
});
