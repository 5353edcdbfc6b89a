/**
 * Bounded END (issue #13): when every source partition has ended, the watermark becomes END_OF_TIME,
 * every open window closes and is emitted, and only then does the run complete — including when a
 * source partition never had data and reduce partitions never received any.
 */
import { describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "../src/index.js";
import { END_OF_TIME } from "../src/time/watermark.js";
import { listsSource, recordingSink, reduceSpec, timed } from "./support/event-time-run.js";
import { referenceCounts, type WindowShape, windowCountsOf } from "./support/window-reference.js";

const BASE = 1_700_000_000_000;

const shapes: ReadonlyArray<[string, WindowShape]> = [
  ["fixed", { fixed: { length: 1_000 } }],
  ["session", { session: { timeout: 60_000 } }],
];

describe("a bounded run's end", () => {
  it.each(shapes)("%s windows: every window is emitted before the run completes, with an empty source partition and reduce partitions that never had data", async (_name, window) => {
    // Two keys over 4 reduce partitions: at least two get nothing; source partition 2 is empty.
    const messages = Array.from({ length: 300 }, (_, i) => timed(`m${i}`, [`k${i % 2}`], BASE + i * 7));
    const { source } = listsSource([messages.filter((_, i) => i % 2 === 0), messages.filter((_, i) => i % 2 === 1), []]);
    const { sink, results } = recordingSink();
    const spec = reduceSpec({ source: { generator: { total: 1 } }, sourcePartitions: 3, reducePartitions: 4, window, watermark: { maxDelay: 50 } });
    const pipeline = createPipeline(parseSpec(spec, "/base"), { sources: { in: source }, sinks: { out: sink } });
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    // Session windows of 60 s never close before the end: only END_OF_TIME closes them.
    expect(windowCountsOf(results())).toEqual(referenceCounts(messages, window, true));
    expect(summary.vertices["counts"]).toMatchObject({ read: messages.length, late: 0 });
    expect(pipeline.watermarks()["counts"]).toEqual({ 0: END_OF_TIME, 1: END_OF_TIME, 2: END_OF_TIME, 3: END_OF_TIME });
  });
});
