/**
 * Review fixes of the event-time code (issue #13): a reduce vertex's published watermark leaves room
 * for allowedLateness; a drained memory run emits its open windows instead of dropping them; a
 * message parked by retryLater upstream of a reduce vertex is not overtaken by its watermark.
 */
import { describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "../src/index.js";
import { outputWatermark } from "../src/pipeline/reduce-vertex.js";
import type { WindowKeeper } from "../src/reduce/window-keeper.js";
import { END_OF_TIME } from "../src/time/watermark.js";
import type { MapFunction } from "../src/udf/map-function.js";
import { listSource } from "./support/list-source.js";
import { referenceCounts, windowCountsOf } from "./support/window-reference.js";
import { collectingSink } from "./support/reduce-run.js";

const keeperAt = (watermark: number | undefined, earliestOpenEnd: number | undefined) => ({ watermark, earliestOpenEnd: () => earliestOpenEnd }) as unknown as WindowKeeper;

describe("reduce review fixes", () => {
  it("the published watermark is the input's less allowedLateness: an on-time message may still open a window ending after it", () => {
    // Input at 20, lateness 5: a message at 16 is on time and opens [10, 20), whose result carries 19.
    expect(outputWatermark(keeperAt(20, undefined), 5)).toBe(15);
    expect(outputWatermark(keeperAt(20, 18), 0)).toBe(17);
    expect(outputWatermark(keeperAt(END_OF_TIME, undefined), 5)).toBe(END_OF_TIME);
    expect(outputWatermark(keeperAt(undefined, 18), 5)).toBeUndefined();
  });

  it("onEventTime reports a reduce partition's window state size: the characters of its stored JSON, 0 once every window closed", async () => {
    const sizes: number[] = [];
    const doc: PipelineSpecInput = {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "state-size" },
      spec: {
        limits: { readBatchSize: 50, readTimeout: "5ms" },
        vertices: [
          { name: "in", source: { generator: { total: 300, rpu: 100_000, duration: "1s", keyCount: 5 } } },
          { name: "counts", udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: "60m" } } } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        edges: [
          { from: "in", to: "counts" },
          { from: "counts", to: "out" },
        ],
      },
    };
    const summary = await createPipeline(parseSpec(doc, "/base"), { onEventTime: (vertex, _partition, update) => vertex === "counts" && update.stateSize !== undefined && sizes.push(update.stateSize) }).start();
    expect(summary.status).toBe("completed");
    expect(Math.max(...sizes)).toBeGreaterThan(0);
    expect(sizes.at(-1)).toBe(0);
  });

  it("a drained memory run emits its open windows (counts add up to what the reduce vertex absorbed)", async () => {
    const { results, sink } = collectingSink();
    const doc: PipelineSpecInput = {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "drain-windows" },
      spec: {
        limits: { readBatchSize: 50, readTimeout: "5ms" },
        vertices: [
          { name: "in", source: { generator: { rpu: 20_000, duration: "1s", keyCount: 5 } } },
          // Hour-long windows: none closes before the run ends.
          { name: "counts", partitions: 2, udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: "60m" } } } } },
          { name: "out", sink: { log: {} } },
        ],
        edges: [
          { from: "in", to: "counts" },
          { from: "counts", to: "out" },
        ],
      },
    };
    const pipeline = createPipeline(parseSpec(doc, "/base"), { sinks: { out: sink } });
    const done = pipeline.start();
    await expect.poll(() => pipeline.counts()["counts"]?.acked ?? 0, { timeout: 60_000, interval: 20 }).toBeGreaterThan(200);
    pipeline.drain();
    const summary = await done;
    expect(summary.status).toBe("drained");
    const absorbed = summary.vertices["counts"]!.ok;
    expect(absorbed).toBeGreaterThan(200);
    const counted = results.reduce((sum, message) => sum + (JSON.parse(new TextDecoder().decode(message.value)) as { count: number }).count, 0);
    expect(counted).toBe(absorbed);
  });

  it("a message parked by retryLater upstream holds its partition's watermark until it comes back: not late, counted in its window", async () => {
    const base = 1_700_000_000_000;
    const messages: Message[] = Array.from({ length: 400 }, (_, i) => ({ id: `m${i}`, keys: [`k${i % 3}`], value: new Uint8Array(), eventTime: base + i * 5, headers: {} }));
    let parkedOnce = false;
    const later: MapFunction = (message) => {
      if (message.id === "m20" && !parkedOnce) {
        parkedOnce = true;
        return { status: "retryLater", delayMs: 300 };
      }
      return [{ value: message.value }];
    };
    const { results, sink } = collectingSink();
    const doc: PipelineSpecInput = {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "parked" },
      spec: {
        watermark: { maxDelay: 0 },
        limits: { readBatchSize: 10, readTimeout: "5ms" },
        vertices: [
          { name: "in", source: { generator: { total: 1 } } },
          { name: "map", udf: { builtin: { name: "cat" } } },
          { name: "counts", partitions: 2, udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: 50 } } } } },
          { name: "out", sink: { log: {} } },
        ],
        edges: [
          { from: "in", to: "map" },
          { from: "map", to: "counts" },
          { from: "counts", to: "out" },
        ],
      },
    };
    const summary = await createPipeline(parseSpec(doc, "/base"), { sources: { in: listSource(messages) }, udfs: { map: later }, sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(parkedOnce).toBe(true);
    expect(summary.vertices["counts"]).toMatchObject({ late: 0 });
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, { fixed: { length: 50 } }, true));
  });
});
