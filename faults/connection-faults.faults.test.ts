/**
 * Scenario 3 — connections dropped (CLIENT KILL) and delayed (CLIENT PAUSE), and a Redis that
 * answers slowly (a delaying proxy with latency spikes), on a seeded schedule while a
 * source → map → 4-partition sink pipeline runs in one process. The buffer's Redis is private
 * (the faults hit every client on it); the sink records into the suite's shared Redis.
 */
import { describe, expect, it } from "vitest";
import { redisCommand, redisTestUrl, startRedisServer } from "../packages/runtime/test/support/redis-server.js";
import { startDelayProxy } from "./support/delay-proxy.js";
import { baseSeed, scenarioFixture, outputFigures, protocolErrorsOf, recordFigures, seededRandom, sleep, startWorker, watchStalls, writeSpec } from "./support/harness.js";

const url = redisTestUrl();
const kinds = ["client-kill", "client-pause", "slow-redis"] as const;

describe.skipIf(url === undefined)("connection faults", () => {
  const fixture = scenarioFixture(url, "conn");
  const recordUrl = fixture.url;

  it.each(kinds.map((kind, i) => ({ trial: i + 1, kind })))("3.$trial $kind on a seeded schedule", async ({ trial, kind }) => {
    const seed = baseSeed + 300 + trial;
    const rng = seededRandom(seed);
    const server = await startRedisServer();
    const proxy = kind === "slow-redis" ? await startDelayProxy(server.port, 3) : undefined;
    try {
      const bufferUrl = proxy === undefined ? server.url : `redis://127.0.0.1:${proxy.port}`;
      const total = 3_000;
      const prefix = fixture.prefix("fc");
      const file = await writeSpec({ dir: fixture.dir, name: "fc", prefix, redisUrl: bufferUrl, total, rpu: 1_500, udf: "{ builtin: { name: cat } }" });
      const stalls = watchStalls(fixture.redis, prefix, total);
      const worker = startWorker("all", [file], { FAULT_SINK_URL: recordUrl, FAULT_SINK_PREFIX: prefix });
      let done = false;
      const exited = worker.exited.then((exit) => ((done = true), exit));
      const faults: string[] = [];
      while (!done) {
        await sleep(rng.int(150, 450));
        if (done) break;
        if (kind === "client-kill") {
          // Every client but this one: Weir's command and blocking connections.
          const killed = await redisCommand(server.url, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").catch(() => 0);
          faults.push(`kill:${killed}`);
        } else if (kind === "client-pause") {
          const ms = rng.int(100, 500);
          await redisCommand(server.url, "CLIENT", "PAUSE", ms, "ALL").catch(() => undefined);
          faults.push(`pause:${ms}`);
        } else {
          const ms = rng.pick([2, 5, 50, 250]);
          proxy!.setDelay(ms);
          faults.push(`delay:${ms}`);
        }
      }
      const exit = await exited;
      const maxStallMs = await stalls.stop();
      const figures = await outputFigures(fixture.redis, prefix, total);
      recordFigures({ scenario: "3 connections", trial: `${kind} ×${faults.length}`, seed, messagesIn: total, ...figures, protocolErrors: protocolErrorsOf([exit]), maxStallMs, exactlyOnce: true });
      expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
      expect(figures.lostIds).toEqual([]);
      expect(figures.duplicatedAfterDedup).toBe(0);
    } finally {
      await proxy?.close();
      await server.stop();
    }
  });
});
