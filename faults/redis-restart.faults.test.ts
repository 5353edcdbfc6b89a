/**
 * Scenario 2 — the buffer's Redis crashes (SIGKILL) mid-run and comes back on the same port:
 * with `appendonly yes, appendfsync always` nothing may be lost; with persistence off the
 * streams, consumer groups and dedup sets are gone, and Weir must say so rather than stall
 * (Numaflow's Redis buffer stalled here). The sink records into the suite's shared Redis.
 */
import { describe, expect, it } from "vitest";
import { redisTestUrl, startRedisServer } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, scenarioFixture, outputFigures, protocolErrorsOf, recordFigures, seededRandom, sleep, startWorker, waitFor, watchStalls, writeSpec } from "./support/harness.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("Redis restarted mid-run", () => {
  const fixture = scenarioFixture(url, "restart");
  const recordUrl = fixture.url;

  it.each([
    { trial: 1, persistence: "aof-always" as const },
    { trial: 2, persistence: "aof-always" as const },
    { trial: 3, persistence: "none" as const },
  ])("2.$trial crash and restart, persistence $persistence", async ({ trial, persistence }) => {
    const seed = baseSeed + 200 + trial;
    const rng = seededRandom(seed);
    const aof = persistence === "aof-always";
    const args = aof ? ["--appendfsync", "always"] : [];
    const first = await startRedisServer({ appendonly: aof, args });
    let second: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      const total = 3_000;
      const prefix = fixture.prefix("fr");
      const file = await writeSpec({ dir: fixture.dir, name: "fr", prefix, redisUrl: first.url, total, rpu: 1_500, udf: "{ builtin: { name: cat } }" });
      const stalls = watchStalls(fixture.redis, prefix, total);
      const worker = startWorker("all", [file], { FAULT_SINK_URL: recordUrl, FAULT_SINK_PREFIX: prefix });
      const at = rng.int(300, 1_500);
      await waitFor("deliveries", async () => Number((await fixture.redis.get(`${prefix}:count`)) ?? 0) >= at);
      await first.kill();
      await sleep(rng.int(100, 600));
      // Same port; with AOF, the same directory, so the server reloads what it had fsynced.
      second = await startRedisServer({ port: first.port, appendonly: aof, args: [...args, ...(aof ? ["--dir", first.dir] : [])] });
      const exit = await Promise.race([worker.exited, sleep(40_000).then(() => undefined)]);
      const maxStallMs = await stalls.stop();
      const figures = await outputFigures(fixture.redis, prefix, total);
      const hung = exit === undefined;
      if (hung) worker.child.kill("SIGKILL");
      const reported = exit !== undefined && exit.code !== 0;
      recordFigures({
        scenario: "2 Redis restart", trial: `${persistence} at ${at}${hung ? " HUNG" : reported ? ` exit ${exit.code}` : ""}`, seed, messagesIn: total, ...figures,
        protocolErrors: exit === undefined ? 0 : protocolErrorsOf([exit]), maxStallMs, exactlyOnce: true,
        lossExpected: !aof && reported,
        ...(exit === undefined ? {} : { note: exit.stderr.split("\n").filter((line) => /error|lost|fail/i.test(line)).slice(-3).join(" | ") }),
      });
      if (aof) {
        expect(exit?.code, exit?.stderr.slice(-3000)).toBe(0);
        expect(figures.lostIds).toEqual([]);
      } else {
        // Without persistence the data is gone: Weir must report it (exit ≠ 0 with a reason), not stall,
        // and must not claim success when messages were lost.
        expect(hung, "the run stalled after Redis lost its data").toBe(false);
        if (figures.lost > 0) expect(exit?.code, exit?.stderr.slice(-3000)).not.toBe(0);
      }
      expect(figures.duplicatedAfterDedup).toBe(0);
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});
