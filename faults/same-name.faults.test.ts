/**
 * Scenario 9 — same name: two deployments of different specs share a pipeline name and keyPrefix
 * (issue #10 item 3: one's messages used to go to the other's sink). Deployment A (source → cat →
 * sink) runs; while it delivers, deployment B (source → sink, its own recording) starts on the
 * same Redis keys. B must refuse to start (BUFFER_SPEC_MISMATCH, exit 1) and write nothing; A must
 * complete with nothing lost and nothing duplicated after dedup.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, outputFigures, protocolErrorsOf, recordFigures, scenarioFixture, seededRandom, startWorker, waitFor, watchStalls, writeSpec } from "./support/harness.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("same name", () => {
  const fixture = scenarioFixture(url, "same-name");
  const redisUrl = fixture.url;

  it("9.1 a second deployment of another spec with the same name and keyPrefix refuses to start", async () => {
    const seed = baseSeed + 901;
    const rng = seededRandom(seed);
    const total = rng.int(2_000, 3_000);
    const prefix = fixture.prefix("fn");
    const otherSink = fixture.prefix("fn-b");
    const fileA = await writeSpec({ dir: fixture.dir, name: "fn", prefix, redisUrl, total, rpu: 1_000, udf: "{ builtin: { name: cat } }" });
    const dirB = path.join(fixture.dir, "b");
    await mkdir(dirB, { recursive: true });
    const fileB = await writeSpec({ dir: dirB, name: "fn", prefix, redisUrl, total, rpu: 1_000, partitions: 2 });
    const stalls = watchStalls(fixture.redis, prefix, total);
    const a = startWorker("a", [fileA], { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix });
    await waitFor("deployment A's first deliveries", async () => Number((await fixture.redis.get(`${prefix}:count`)) ?? 0) > 0, 60_000);
    const b = await startWorker("b", [fileB], { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: otherSink }).exited;
    const exitA = await a.exited;
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    recordFigures({
      scenario: "9 same-name", trial: `A runs, B refused (exit ${b.code})`, seed, messagesIn: total,
      ...figures, protocolErrors: protocolErrorsOf([exitA]), maxStallMs, exactlyOnce: true,
    });
    expect(b.code, b.stderr.slice(-2000)).toBe(1);
    expect(b.stderr).toMatch(/the Redis keys of pipeline 'fn' \(keyPrefix fn-[0-9a-f]+\) belong to another spec/);
    expect(b.stderr).toContain(fileA);
    expect(await fixture.redis.scard(`${otherSink}:output`)).toBe(0);
    expect(exitA.code, exitA.stderr.slice(-3000)).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicatedAfterDedup).toBe(0);
  });
});
