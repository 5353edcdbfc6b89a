/**
 * Scenario 11 — the wall clock steps: a worker's Date.now() is stepped back an hour every 500 ms
 * (every 5 ms in 11.2) by a preload (faults/fixtures/shift-clock.mjs via NODE_OPTIONS), as an
 * operator or NTP would, only more often.
 * Durations in Weir run on the monotonic clock, so (11.1) a live sink worker still claims the
 * entries a SIGKILLed one left pending after `claimIdle: 3s`, and (11.2) a process sink that
 * crashes is restarted after its backoff, not an hour later. Nothing lost, nothing twice after
 * dedup.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import {
  baseSeed, expectedIds, outputFigures, pendingOf, protocolErrorsOf, recordFigures, repoRoot, scenarioFixture, seededRandom, startWorker, waitFor, watchStalls, writeSpec,
} from "./support/harness.js";

const url = redisTestUrl();
const shiftClock = pathToFileURL(fileURLToPath(new URL("./fixtures/shift-clock.mjs", import.meta.url))).href;
const steppedClock = { NODE_OPTIONS: `--import ${shiftClock}`, SHIFT_CLOCK_STEP_MS: String(-3_600_000), SHIFT_CLOCK_EVERY_MS: "500" };
const pythonSink = path.join(repoRoot, "examples/python-sink");

describe.skipIf(url === undefined)("clock step", () => {
  const fixture = scenarioFixture(url, "clock");
  const redisUrl = fixture.url;

  it("11.1 a worker whose clock steps back an hour still claims a dead worker's entries after claimIdle", async () => {
    const seed = baseSeed + 1101;
    const rng = seededRandom(seed);
    const total = rng.int(1_500, 2_500);
    const prefix = fixture.prefix("fc");
    const file = await writeSpec({ dir: fixture.dir, name: "fc", prefix, redisUrl, total, rpu: 1_000, claimIdle: "3s" });
    const sinkEnv = { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix, FAULT_SINK_DELAY_MS: "20" };
    const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
    const stalls = watchStalls(fixture.redis, prefix, total);
    const victim = startWorker("out/a", args("a", "out"), sinkEnv);
    const stepped = startWorker("out/b (clock stepped)", args("b", "out"), { ...sinkEnv, ...steppedClock });
    const source = startWorker("in", args("src", "in"), sinkEnv);
    // Kill the victim once the run is under way and it holds entries: they wait for b's claim.
    await waitFor("deliveries under way", async () => (await fixture.redis.hlen(`${prefix}:deliveries`)) >= total / 4, 60_000);
    await waitFor("the victim holding entries", async () => (await pendingOf(fixture.redis, prefix, "fc", "out", "fc-a")) > 0, 60_000);
    victim.child.kill("SIGKILL");
    const exits = [await source.exited, await stepped.exited];
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    recordFigures({
      scenario: "11 clock step", trial: "claim after claimIdle 3s, clock −1 h every 500 ms", seed, messagesIn: total,
      ...figures, protocolErrors: protocolErrorsOf(exits), maxStallMs, exactlyOnce: true,
    });
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(stepped.stderr()).toMatch(/claimed entries of an idle consumer/);
    expect(figures.lostIds).toEqual([]);
    expect(figures.duplicatedAfterDedup).toBe(0);
  }, 180_000);

  it("11.2 a process sink that crashes is restarted after its backoff while the worker's clock steps back", async () => {
    const seed = baseSeed + 1102;
    const rng = seededRandom(seed);
    const total = rng.int(300, 600);
    const prefix = fixture.prefix("fs");
    const outDir = path.join(fixture.dir, prefix);
    await import("node:fs/promises").then((fs) => fs.mkdir(outDir));
    const file = path.join(fixture.dir, `${prefix}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: fs }",
        "spec:",
        `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix}, claimIdle: 3s }`,
        "  limits: { readBatchSize: 50, readTimeout: 20ms }",
        "  vertices:",
        `    - { name: in, source: { generator: { total: ${total}, rpu: ${total}, duration: 1s, keyCount: 16 } } }`,
        "    - name: out",
        "      partitions: 2",
        "      sink:",
        "        process:",
        "          command: [python3, misbehaving_sink.py]",
        `          cwd: "${pythonSink}"`,
        `          env: { SINK_OUTPUT: "${outDir}/out-{partition}.jsonl", MISBEHAVE: crash, MISBEHAVE_EVERY: "3" }`,
        "  edges:",
        "    - { from: in, to: out }",
        "",
      ].join("\n"),
    );
    // A step every 5 ms, so that one lands between a crash and the restart it delays.
    const exit = await startWorker("all (clock stepped)", [file], { ...steppedClock, SHIFT_CLOCK_EVERY_MS: "5" }).exited;
    const counts = new Map<string, number>();
    for (const name of readdirSync(outDir)) {
      for (const line of readFileSync(path.join(outDir, name), "utf8").split("\n")) {
        if (line.trim() === "") continue;
        const id = (JSON.parse(line) as { id: string }).id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    const lostIds = expectedIds(total).filter((id) => !counts.has(id));
    let before = 0;
    for (const n of counts.values()) before += n - 1;
    const restarts = exit.stderr.split("\n").filter((line) => line.includes("restarting the process after a backoff"));
    recordFigures({
      scenario: "11 clock step", trial: `process sink crashes (${restarts.length} restarts), clock −1 h every 5 ms`, seed, messagesIn: total,
      messagesOut: counts.size, lost: lostIds.length, duplicatedBeforeDedup: before, duplicatedAfterDedup: [...counts.keys()].filter((id) => !id.startsWith("in-0-")).length,
      protocolErrors: protocolErrorsOf([exit]), maxStallMs: 0, exactlyOnce: false,
      note: "the process sink writes at-least-once (no dedup): dup after counts ids that are not the generator's",
    });
    expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(restarts.length).toBeGreaterThan(0);
    for (const line of restarts) expect((JSON.parse(line) as { delayMs: number }).delayMs).toBeLessThanOrEqual(5_000);
    expect(lostIds).toEqual([]);
  }, 180_000);
});
