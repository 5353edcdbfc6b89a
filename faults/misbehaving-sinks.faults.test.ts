/**
 * Scenario 4 — misbehaving sinks: faults/fixtures/fault-sink.mjs throws, hangs, answers for half
 * a batch, answers twice for one id, answers for an id it was never given, or crashes its own
 * process, once, at a seeded write. A 1,500-message source → 2–4-partition sink pipeline runs
 * with `resultTimeout: 300ms` and `onFailure: fallback` to a jsonl file; every id must reach the
 * sink's output set or the fallback file (lost = 0), the protocol violations (hang, early, twice,
 * unknown) must be counted, and the run must exit 0 (a crash: the restarted worker must).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisTestUrl, uniquePrefix } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, expectedIds, killLeftovers, outputFigures, protocolErrorsOf, recordFigures, seededRandom, startWorker, watchStalls, writeSpec, type Exit } from "./support/harness.js";

const url = redisTestUrl();
const behaviours = ["throw", "hang", "early", "crash", "fallback"] as const;
/**
 * BUG (found by this scenario; packages/runtime/src, the sink session / bounded-run completion):
 * after a DUPLICATE_RESULT ("twice") or UNKNOWN_ID ("unknown") protocol error, a bounded run can
 * end `completed`, exit 0, with the sink vertex having read only part of its input — e.g.
 * `"in":{"written":1198,"acked":1198}, "out":{"read":1004,"acked":1004,"protocolErrors":1}`: 194
 * ids never reached the sink nor the fallback, and nothing reports the loss. About 1 trial in 15
 * under the suite's load (two scenario files at a time); more often when two such runs share the
 * machine. Not seen again in 40 runs (20 per behaviour, WEIR_FAULTS_LOSSY_RUNS=20) after the
 * supervisor's drain and final-close fixes, whose symptoms it shared; the cause was not proven.
 */
const lossyBehaviours = ["twice", "unknown"] as const;
/** The behaviours that break the sink protocol (DESIGN: results for exactly the ids given, in time). */
const violations = new Set<string>(["hang", "early", "twice", "unknown"]);

describe.skipIf(url === undefined)("misbehaving sinks", () => {
  const redisUrl = url as string;
  let dir: string;
  let redis: Redis;
  const prefixes: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-faults-sinks-"));
    redis = new Redis(redisUrl);
  });
  afterEach(() => void killLeftovers());
  afterAll(async () => {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });

  /** One trial: the figures are recorded when `record`; returns the lost ids. */
  async function trialOf(trial: number, behaviour: string, record: boolean): Promise<string[]> {
    const seed = baseSeed + 400 + trial;
    const rng = seededRandom(seed);
    const total = rng.int(1_000, 2_000);
    const partitions = rng.int(2, 4);
    const at = rng.int(2, 8);
    const prefix = uniquePrefix("fm");
    prefixes.push(prefix);
    const fallbackFile = path.join(dir, `${prefix}-fallback.jsonl`);
    const file = await writeSpec({
      dir, name: "fm", prefix, redisUrl, total, rpu: total, partitions,
      limits: "readBatchSize: 50, readTimeout: 20ms, resultTimeout: 300ms",
      sinkExtra: `, retryStrategy: { backoff: { interval: 10ms, steps: 2 }, onFailure: fallback }, fallback: { jsonl: { path: "${fallbackFile}" } }`,
    });
    const env = { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix, FAULT_SINK_MISBEHAVE: behaviour, FAULT_SINK_MISBEHAVE_AT: String(at) };
    const stalls = watchStalls(redis, prefix, total);
    const started = Date.now();
    const exits: Exit[] = [await startWorker("all", [file], env).exited];
    if (behaviour === "crash") {
      // The sink took its process down (exit 3); the same worker, restarted, must finish the run.
      expect(exits[0]!.code, exits[0]!.stderr.slice(-3000)).toBe(3);
      exits.push(await startWorker("restart", [file], { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix }).exited);
    }
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(redis, prefix, total);
    const fallbackIds = new Set(
      existsSync(fallbackFile)
        ? readFileSync(fallbackFile, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => (JSON.parse(line) as { id: string }).id)
        : [],
    );
    const lostIds = expectedIds(total).filter((id) => !fallbackIds.has(id) && figures.lostIds.includes(id));
    const misbehaved = Number((await redis.get(`${prefix}:misbehaved`)) ?? 0);
    const protocolErrors = protocolErrorsOf(exits.slice(-1));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (record) recordFigures({
      scenario: "4 misbehaving sinks", trial: `${behaviour} at write ${at}, ${partitions}p, fallback ${fallbackIds.size} (${seconds}s)`, seed, messagesIn: total,
      ...figures, messagesOut: figures.messagesOut + [...fallbackIds].filter((id) => figures.lostIds.includes(id)).length, lost: lostIds.length,
      protocolErrors, maxStallMs, exactlyOnce: false,
      ...(lostIds.length === 0 ? {} : { note: `lost ${lostIds.slice(0, 5).join(" ")}…; summary ${exits.at(-1)!.stdout.trim().split("\n").pop()}; ${exits.at(-1)!.stderr.split("\n").filter((line) => /warn|error/i.test(line)).slice(-8).join(" | ")}` }),
    });
    expect(misbehaved, "the sink misbehaved").toBe(1);
    expect(exits.at(-1)!.code, exits.at(-1)!.stderr.slice(-3000)).toBe(0);
    if (violations.has(behaviour)) expect(protocolErrors, `protocol errors surfaced for ${behaviour}`).toBeGreaterThan(0);
    if (behaviour === "fallback") expect(fallbackIds.size, "the batch the sink refused is in the fallback").toBeGreaterThan(1);
    return lostIds;
  }

  it.each(behaviours.map((behaviour, i) => ({ trial: i + 1, behaviour })))("4.$trial sink: $behaviour", async ({ trial, behaviour }) => {
    expect(await trialOf(trial, behaviour, true)).toEqual([]);
  });

  // Once lossy (see lossyBehaviours above); 40 of 40 runs clean after the drain and final-close
  // fixes. Repeated, since it showed up about once in 15 runs; WEIR_FAULTS_LOSSY_RUNS=20 for more.
  it.each(lossyBehaviours.map((behaviour, i) => ({ trial: behaviours.length + i + 1, behaviour })))(
    "4.$trial sink: $behaviour — nothing lost over repeated runs",
    async ({ trial, behaviour }) => {
      const runs = Number(process.env["WEIR_FAULTS_LOSSY_RUNS"] ?? "3");
      for (let attempt = 0; attempt < runs; attempt += 1) expect(await trialOf(trial, behaviour, attempt === 0), `attempt ${attempt + 1}`).toEqual([]);
    },
    300_000,
  );
});
