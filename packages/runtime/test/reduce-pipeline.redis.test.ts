/**
 * Reduce vertices end to end on the Redis buffer (issue #13): the memory e2e cases
 * (reduce-pipeline.test.ts) with window state in Redis, committed with the ack by one script —
 * counts per (keys, window) equal an independent reference for fixed, sliding and session windows,
 * keyed and not, event times out of order within maxDelay, and each window is emitted once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRedisServer, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { referenceCounts, type WindowShape, windowCountsOf } from "./support/window-reference.js";
import { outOfOrderMessages, runReduce } from "./support/reduce-run.js";

const cases: ReadonlyArray<[string, WindowShape, boolean]> = [
  ["fixed, keyed", { fixed: { length: 1_000 } }, true],
  ["fixed, not keyed", { fixed: { length: 500 } }, false],
  ["sliding, keyed", { sliding: { length: 1_000, slide: 250 } }, true],
  ["session, keyed", { session: { timeout: 40 } }, true],
  ["session, not keyed", { session: { timeout: 5 } }, false],
];

describe.skipIf(findRedisServer() === undefined)("reduce vertex on the Redis buffer", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(cases)("%s: counts per (keys, window) equal the reference, each window once", async (_name, window, keyed) => {
    const messages = outOfOrderMessages(4_000, 13, 150);
    const buffer = { type: "redis", url: server.url, keyPrefix: uniquePrefix("reduce") };
    const { summary, results } = await runReduce({ window, keyed, messages, reducePartitions: keyed ? 4 : 1, maxDelay: 150, buffer });
    expect(summary.status, JSON.stringify(summary)).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: 4_000, late: 0 });
    const ids = results.map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, window, keyed));
  });
});
