/**
 * Issue #15 part 2's acceptance on real Redis with real processes: `ordered: { enabled: true }`,
 * a map worker (its udf failing a random 10 % on first try) SIGKILLed twice mid-run and restarted
 * under the same `--replica` — alone, or beside a second map worker that stands by and takes
 * over — and a sink failing a random 10 % on first try. Every key's messages reach the sink in
 * the source's order and none is lost.
 *
 * "In order" (test/support/order-check.ts): the *first* arrivals of a key's ids rise in source
 * sequence; a second arrival of an id (a redelivery after a kill) is a duplicate, counted apart.
 *
 *   in (generator, 50 keys) ──▶ [map × 4] ──▶ map/m (udf, killed) ──▶ [out × 4] ──▶ out (records arrivals)
 */
import { fileURLToPath } from "node:url";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "./support/redis-server.js";
import { checkOrder, type Arrival } from "./support/order-check.js";
import { pendingOf, scenarioFixture, sleep, startWorker, waitFor, type ScenarioFixture } from "../../../faults/support/harness.js";

const url = redisTestUrl();
const sinkModule = fileURLToPath(new URL("./fixtures/ordered-sink.mjs", import.meta.url));
const udfModule = fileURLToPath(new URL("./fixtures/ordered-udf.mjs", import.meta.url));
const PIPELINE = "ord";

async function writeOrderedSpec(fixture: ScenarioFixture, prefix: string, options: { total: number; rpu: number; keyCount: number; ordered: boolean }): Promise<string> {
  const file = path.join(fixture.dir, `${prefix}.yaml`);
  await writeFile(
    file,
    [
      "apiVersion: weir.dev/v1",
      "kind: Pipeline",
      `metadata: { name: ${PIPELINE} }`,
      "spec:",
      `  buffer: { type: redis, url: "${fixture.url}", keyPrefix: ${prefix}, claimIdle: 1s }`,
      "  limits: { readBatchSize: 50, readTimeout: 20ms }",
      `  ordered: { enabled: ${options.ordered} }`,
      "  vertices:",
      `    - { name: in, source: { generator: { total: ${options.total}, rpu: ${options.rpu}, duration: 1s, keyCount: ${options.keyCount} } } }`,
      `    - { name: map, partitions: 4, udf: { module: { path: "${udfModule}", export: udf } }, retryStrategy: { onFailure: retry } }`,
      `    - { name: out, partitions: 4, sink: { module: { path: "${sinkModule}" } } }`,
      "  edges:",
      "    - { from: in, to: map }",
      "    - { from: map, to: out }",
      "",
    ].join("\n"),
  );
  return file;
}

/**
 * Runs the trial: map workers named `replicas` (under `ordered` on Redis one runs the vertex, the
 * others stand by); each kill hits the one running it while it holds entries, and restarts it
 * under the same name. Returns what the sink recorded, in arrival order, the exits, the kills.
 */
async function runTrial(fixture: ScenarioFixture, options: { total: number; rpu: number; keyCount: number; ordered: boolean; kills: number; replicas: readonly string[] }) {
  const prefix = fixture.prefix(PIPELINE);
  const file = await writeOrderedSpec(fixture, prefix, options);
  const env = { ORDERED_URL: fixture.url, ORDERED_PREFIX: prefix };
  const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
  const sink = startWorker("out", args("out", "out"), env);
  const maps = new Map(options.replicas.map((name) => [name, startWorker(`map/${name}`, args(name, "map"), env)]));
  const source = startWorker("in", args("src", "in"), env);
  const arrived = async () => fixture.redis.llen(`${prefix}:arrivals`);
  const holding = async (name: string) => pendingOf(fixture.redis, prefix, PIPELINE, "map", `${PIPELINE}-${name}`);
  let kills = 0;
  for (let round = 0; round < options.kills; round += 1) {
    const mark = Math.floor((options.total * (round + 1)) / (options.kills + 2));
    await waitFor(`the sink to pass ${mark} arrivals`, async () => (await arrived()) >= mark, 120_000);
    // The kill must find the running worker holding entries (read, maybe written downstream, not acked).
    let victim: string | undefined;
    await waitFor("a map worker to hold entries", async () => {
      for (const name of maps.keys()) if ((await holding(name)) > 0) victim = name;
      return victim !== undefined || (await arrived()) >= options.total;
    }, 60_000);
    if (victim === undefined) break;
    await sleep(round * 7); // a little spread in where the kill lands
    const worker = maps.get(victim)!;
    worker.child.kill("SIGKILL");
    await worker.exited;
    kills += 1;
    maps.set(victim, startWorker(`map/${victim}#${round + 1}`, args(victim, "map"), env));
  }
  const exits = await Promise.all([source.exited, sink.exited, ...[...maps.values()].map((worker) => worker.exited)]);
  const raw = await fixture.redis.lrange(`${prefix}:arrivals`, 0, -1);
  const arrivals = raw.map((line): Arrival => {
    const [key, seq, id] = line.split("|") as [string, string, string];
    return { key, seq: Number(seq), id };
  });
  return { arrivals, exits, kills };
}

describe.skipIf(url === undefined)("ordered processing per key on Redis, a map worker SIGKILLed", () => {
  const fixture = scenarioFixture(url, "ordered");

  it("every key's messages reach the sink in source order, none lost, across retries and two kills", async () => {
    const total = 6_000;
    const { arrivals, exits, kills } = await runTrial(fixture, { total, rpu: 1_000, keyCount: 50, ordered: true, kills: 2, replicas: ["m"] });
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(kills).toBeGreaterThan(0);
    const report = checkOrder(arrivals);
    expect(report.examples).toEqual([]);
    expect(report.inversions).toBe(0);
    expect(report.arrived).toBe(total);
  }, 240_000);

  it("two map workers: one runs the vertex, the other stands by and takes over the killed one's entries, in order", async () => {
    const total = 6_000;
    const { arrivals, exits, kills } = await runTrial(fixture, { total, rpu: 1_000, keyCount: 50, ordered: true, kills: 2, replicas: ["a", "b"] });
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(kills).toBeGreaterThan(0);
    expect(exits.some((exit) => exit.stderr.includes("standing by until its lease is free"))).toBe(true);
    expect(exits.some((exit) => exit.stderr.includes("took over the ordered vertex's lease"))).toBe(true);
    const report = checkOrder(arrivals);
    expect(report.examples).toEqual([]);
    expect(report.inversions).toBe(0);
    expect(report.arrived).toBe(total);
  }, 240_000);
});
