/**
 * Scenario 1 — SIGKILL of a sink worker at seeded points (mid-read, mid-sink, between sink and
 * ack, mid-commit), recovered by a restart of the same replica or by a live worker's claim (I5).
 * Scenario 6 — SIGTERM drain at seeded points: exit 0, in-flight work committed, and nothing is
 * delivered twice after the drained worker restarts.
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import {
  baseSeed, scenarioFixture, outputFigures, pendingOf, protocolErrorsOf, recordFigures, seededRandom, sleep, startWorker,
  waitFor, watchStalls, writeSpec, type Exit,
} from "./support/harness.js";

const url = redisTestUrl();
const phases = ["write-start", "write-recorded", "commit", "mid-read"] as const;

describe.skipIf(url === undefined)("worker faults", () => {
  const fixture = scenarioFixture(url, "workers");
  const redisUrl = fixture.url;

  async function setup(total: number) {
    const prefix = fixture.prefix("fk");
    const file = await writeSpec({ dir: fixture.dir, name: "fk", prefix, redisUrl, total, rpu: total, claimIdle: "1s" });
    const env = { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix };
    const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
    return { prefix, env, args };
  }

  it.each(phases.map((phase, i) => ({ trial: i + 1, phase })))("1.$trial SIGKILL of a sink worker at $phase", async ({ trial, phase }) => {
    const seed = baseSeed + 100 + trial;
    const rng = seededRandom(seed);
    const recovery = rng.pick(["restart", "claim"] as const);
    const killAfter = rng.int(1, 4);
    const total = 2_000;
    const { prefix, env, args } = await setup(total);
    const slow = { ...env, FAULT_SINK_DELAY_MS: "15" };
    const faults: Record<string, string> = phase === "mid-read" ? {} : { FAULT_SINK_KILL_PHASE: phase, FAULT_SINK_KILL_AFTER: String(killAfter) };
    const victim = startWorker("out/a", args("a", "out"), { ...slow, ...faults });
    const survivor = startWorker("out/b", args("b", "out"), slow);
    const stalls = watchStalls(fixture.redis, prefix, total);
    const source = startWorker("in/src", args("src", "in"), env);
    if (phase === "mid-read") {
      // From outside, at a seeded moment once the run is under way, while the victim holds entries.
      await waitFor("first deliveries", async () => (await fixture.redis.hlen(`${prefix}:deliveries`)) > 200);
      await sleep(rng.int(0, 300));
      await waitFor("the victim to hold pending entries", async () => (await pendingOf(fixture.redis, prefix, "fk", "out", "fk-a")) > 0);
      victim.child.kill("SIGKILL");
    }
    const killed = await victim.exited;
    const exits: Exit[] = [];
    let restarted: ReturnType<typeof startWorker> | undefined;
    if (recovery === "restart") restarted = startWorker("out/a'", args("a", "out"), slow);
    exits.push(await source.exited, await survivor.exited);
    if (restarted !== undefined) exits.push(await restarted.exited);
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    const reached = killed.signal === "SIGKILL";
    recordFigures({
      scenario: "1 SIGKILL worker",
      trial: `${phase}/${recovery}${reached ? "" : " (kill point not reached)"}`,
      seed,
      messagesIn: total,
      ...figures,
      protocolErrors: protocolErrorsOf(exits),
      maxStallMs,
      exactlyOnce: true,
    });
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicatedAfterDedup).toBe(0);
  });

  const drainTrials = Number(process.env["WEIR_FAULTS_DRAIN_TRIALS"] ?? "3");
  it.each(Array.from({ length: drainTrials }, (_, i) => ({ trial: i + 1 })))("6.$trial SIGTERM drain of a sink worker at a seeded moment", async ({ trial }) => {
    const seed = baseSeed + 600 + trial;
    const rng = seededRandom(seed);
    const total = 2_000;
    const { prefix, env, args } = await setup(total);
    const slow = { ...env, FAULT_SINK_DELAY_MS: String(rng.int(5, 25)) };
    const trace = path.join(fixture.dir, `${prefix}-a.trace.jsonl`);
    const victim = startWorker("out/a", [...args("a", "out"), "--trace", trace], slow);
    const survivor = startWorker("out/b", args("b", "out"), slow);
    const stalls = watchStalls(fixture.redis, prefix, total);
    const source = startWorker("in/src", args("src", "in"), env);
    // Signals before the CLI has installed its handlers kill the process outright (Node's default).
    await waitFor("the victim to start", () => victim.stderr().includes("pipeline started"));
    await waitFor("first deliveries", async () => (await fixture.redis.hlen(`${prefix}:deliveries`)) > 0);
    await sleep(rng.int(0, 600));
    victim.child.kill("SIGTERM");
    // A drain is bounded: the in-flight epochs (a few sink calls) commit, then the worker exits.
    const drained = await Promise.race([victim.exited, sleep(15_000).then(() => undefined)]);
    if (drained === undefined) {
      const stderr = victim.stderr();
      victim.child.kill("SIGKILL");
      await victim.exited;
      recordFigures({
        scenario: "6 SIGTERM drain", trial: `t${trial} DRAIN HUNG`, seed, messagesIn: total,
        ...(await outputFigures(fixture.redis, prefix, total)), protocolErrors: 0, maxStallMs: await stalls.stop(), exactlyOnce: true,
      });
      const kept = path.join(tmpdir(), `weir-faults-drain-hung-${seed}.trace.jsonl`);
      await import("node:fs/promises").then((fs) => fs.copyFile(trace, kept)).catch(() => undefined);
      throw new Error(`the drained worker did not exit within 15 s (trace: ${kept}); its stderr:\n${stderr.slice(-6000)}`);
    }
    const restarted = startWorker("out/a'", args("a", "out"), slow);
    const exits = [drained, await source.exited, await survivor.exited, await restarted.exited];
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    recordFigures({
      scenario: "6 SIGTERM drain",
      trial: `t${trial} (sink ${slow.FAULT_SINK_DELAY_MS}ms)`,
      seed,
      messagesIn: total,
      ...figures,
      protocolErrors: protocolErrorsOf(exits),
      maxStallMs,
      exactlyOnce: true,
    });
    expect(drained.code, drained.stderr.slice(-3000)).toBe(0);
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(figures.lostIds).toEqual([]);
    // In-flight work was committed by the drain: nothing it delivered is delivered again.
    expect(figures.duplicatedBeforeDedup).toBe(0);
  });
});
