/**
 * Scenario 5 — skew: one partition 100× hotter than the rest (a UDF keys 100 of every 101
 * messages alike); one partition's sink 100× slower than the others, in both commit modes.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, scenarioFixture, outputFigures, protocolErrorsOf, recordFigures, seededRandom, startWorker, watchStalls, writeSpec } from "./support/harness.js";

const url = redisTestUrl();
const skewUdf = fileURLToPath(new URL("./fixtures/skew-udf.mjs", import.meta.url));
const trials = [
  { trial: 1, kind: "hot partition", commit: "aligned" as const },
  { trial: 2, kind: "slow partition sink", commit: "aligned" as const },
  { trial: 3, kind: "slow partition sink", commit: "partition" as const },
];

describe.skipIf(url === undefined)("skew", () => {
  const fixture = scenarioFixture(url, "skew");
  const redisUrl = fixture.url;

  it.each(trials)("5.$trial $kind, commit $commit", async ({ trial, kind, commit }) => {
    const seed = baseSeed + 500 + trial;
    const rng = seededRandom(seed);
    const total = kind === "hot partition" ? 4_000 : 1_500;
    const prefix = fixture.prefix("fs");
    const slowPartition = rng.int(0, 3);
    const file = await writeSpec({
      dir: fixture.dir, name: "fs", prefix, redisUrl, total, rpu: total, commit,
      ...(kind === "hot partition" ? { udf: `{ module: { path: "${skewUdf}", export: skew } }` } : {}),
    });
    const env: Record<string, string> = { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix, FAULT_SINK_DELAY_MS: "1" };
    if (kind !== "hot partition") Object.assign(env, { FAULT_SINK_SLOW_PARTITION: String(slowPartition), FAULT_SINK_SLOW_FACTOR: "100" });
    const stalls = watchStalls(fixture.redis, prefix, total);
    const started = Date.now();
    const exit = await startWorker("all", [file], env).exited;
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    recordFigures({
      scenario: "5 skew", trial: `${kind}${kind === "hot partition" ? "" : ` p${slowPartition}`}, ${commit} (${seconds}s)`, seed, messagesIn: total,
      ...figures, protocolErrors: protocolErrorsOf([exit]), maxStallMs, exactlyOnce: true,
    });
    expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicatedAfterDedup).toBe(0);
  });
});
