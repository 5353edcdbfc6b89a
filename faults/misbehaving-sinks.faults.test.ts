/**
 * Scenario 4 — misbehaving sinks and udfs. faults/fixtures/fault-sink.mjs throws, hangs, answers
 * late, answers for half a batch, twice for one id, for an id it was never given, refuses a batch
 * (`fallback`) or crashes its own process, once, at a seeded write; faults/fixtures/fault-udf.mjs
 * (a map vertex in front of the sink) throws, hangs or crashes its process once; and a fallback
 * that fails its first writes (faults/fixtures/flaky-fallback.mjs). A 1,000–2,000-message run with
 * `resultTimeout: 300ms` and `onFailure: fallback`: every id must reach the sink's output set or
 * the fallback (lost = 0), the sink protocol violations (hang, late, early, twice, unknown) must
 * be counted, and the run must exit 0 (after a crash: the restarted worker must).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, scenarioFixture, expectedIds, outputFigures, protocolErrorsOf, recordFigures, seededRandom, startWorker, watchStalls, writeSpec, type Exit } from "./support/harness.js";

const url = redisTestUrl();
const faultUdf = fileURLToPath(new URL("./fixtures/fault-udf.mjs", import.meta.url));
const flakyFallback = fileURLToPath(new URL("./fixtures/flaky-fallback.mjs", import.meta.url));

/** Who misbehaves, and how. Trial numbers (and so seeds) follow this order; append, don't insert. */
const misbehaviours = [
  { name: "throw", sink: "throw" },
  { name: "hang", sink: "hang", violation: true },
  { name: "early", sink: "early", violation: true },
  { name: "crash", sink: "crash", crashes: true },
  { name: "fallback", sink: "fallback", refuses: true },
  { name: "twice", sink: "twice", violation: true, lossy: true },
  { name: "unknown", sink: "unknown", violation: true, lossy: true },
  { name: "late", sink: "late", violation: true },
  { name: "fallback fails", sink: "fallback", refuses: true, flakyFallback: true },
  { name: "udf throws", udf: "throw" },
  { name: "udf hangs", udf: "hang" },
  { name: "udf crashes", udf: "crash", crashes: true },
] as const satisfies ReadonlyArray<Misbehaviour>;

interface Misbehaviour {
  readonly name: string;
  /** FAULT_SINK_MISBEHAVE, or FAULT_UDF_MISBEHAVE for a map vertex running fault-udf.mjs. */
  readonly sink?: string;
  readonly udf?: string;
  /** Breaks the sink protocol (results for exactly the ids given, in time): must count as a protocol error. */
  readonly violation?: boolean;
  /** Takes its process down (exit 3): the worker is restarted and must finish the run. */
  readonly crashes?: boolean;
  /** Answers `fallback` for a batch: those ids must be in the fallback. */
  readonly refuses?: boolean;
  readonly flakyFallback?: boolean;
  /**
   * Once lossy (found by this scenario, fixed): after a DUPLICATE_RESULT ("twice") or UNKNOWN_ID
   * ("unknown") protocol error a run could end `completed`, exit 0, with the last entries of a
   * partition (2–194 of them) delivered to the sink's consumer but never handed to its reader.
   * The source's end of stream woke the reader's blocking XREADGROUP just after Redis had served
   * it those entries, and the end-of-stream check counted the consumer's own pending entries as
   * in hand. Reads now hand out such entries before reporting the end (consumer-group-stream.ts;
   * regression test in redis-stream-buffer.redis.test.ts). Repeated: it showed up about once in
   * 15 runs.
   */
  readonly lossy?: boolean;
}

describe.skipIf(url === undefined)("misbehaving sinks", () => {
  const fixture = scenarioFixture(url, "sinks");
  const redisUrl = fixture.url;

  /** One trial: the figures are recorded when `record`; returns the lost ids. */
  async function trialOf(trial: number, misbehaviour: Misbehaviour, record: boolean): Promise<string[]> {
    const seed = baseSeed + 400 + trial;
    const rng = seededRandom(seed);
    const total = rng.int(1_000, 2_000);
    const partitions = rng.int(2, 4);
    const at = rng.int(2, 8);
    const prefix = fixture.prefix("fm");
    const fallbackFile = path.join(fixture.dir, `${prefix}-fallback.jsonl`);
    const fallback = misbehaviour.flakyFallback === true ? `{ module: { path: "${flakyFallback}" } }` : `{ jsonl: { path: "${fallbackFile}" } }`;
    const file = await writeSpec({
      dir: fixture.dir, name: "fm", prefix, redisUrl, total, rpu: total, partitions,
      limits: "readBatchSize: 50, readTimeout: 20ms, resultTimeout: 300ms",
      ...(misbehaviour.udf === undefined
        ? {}
        : { udf: `{ module: { path: "${faultUdf}", export: udf } }`, mapExtra: ", retryStrategy: { backoff: { interval: 10ms, steps: 3 }, onFailure: retry }" }),
      sinkExtra: `, retryStrategy: { backoff: { interval: 10ms, steps: 2 }, onFailure: fallback }, fallback: ${fallback}`,
    });
    const env: Record<string, string> = { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix };
    const faults: Record<string, string> =
      misbehaviour.udf === undefined
        ? { FAULT_SINK_MISBEHAVE: misbehaviour.sink ?? "", FAULT_SINK_MISBEHAVE_AT: String(at) }
        : { FAULT_UDF_MISBEHAVE: misbehaviour.udf, FAULT_UDF_MISBEHAVE_AT: String(at * 50) };
    const stalls = watchStalls(fixture.redis, prefix, total);
    const started = Date.now();
    const exits: Exit[] = [await startWorker("all", [file], { ...env, ...faults }).exited];
    if (misbehaviour.crashes === true) {
      // The sink or udf took its process down (exit 3); the same worker, restarted, must finish the run.
      expect(exits[0]!.code, exits[0]!.stderr.slice(-3000)).toBe(3);
      exits.push(await startWorker("restart", [file], env).exited);
    }
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    const fallbackIds = new Set(
      misbehaviour.flakyFallback === true
        ? await fixture.redis.smembers(`${prefix}:fallback`)
        : existsSync(fallbackFile)
          ? readFileSync(fallbackFile, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => (JSON.parse(line) as { id: string }).id)
          : [],
    );
    const lostIds = expectedIds(total).filter((id) => !fallbackIds.has(id) && figures.lostIds.includes(id));
    const misbehaved = Number((await fixture.redis.get(`${prefix}:misbehaved`)) ?? 0);
    const protocolErrors = protocolErrorsOf(exits.slice(-1));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const where = misbehaviour.udf === undefined ? `at write ${at}` : `at call ${at * 50}`;
    if (record) recordFigures({
      scenario: "4 misbehaving sinks, udfs", trial: `${misbehaviour.name} ${where}, ${partitions}p, fallback ${fallbackIds.size} (${seconds}s)`, seed, messagesIn: total,
      ...figures, messagesOut: figures.messagesOut + [...fallbackIds].filter((id) => figures.lostIds.includes(id)).length, lost: lostIds.length,
      protocolErrors, maxStallMs, exactlyOnce: false,
      ...(lostIds.length === 0 ? {} : { note: `lost ${lostIds.slice(0, 5).join(" ")}…; summary ${exits.at(-1)!.stdout.trim().split("\n").pop()}; ${exits.at(-1)!.stderr.split("\n").filter((line) => /warn|error/i.test(line)).slice(-8).join(" | ")}` }),
    });
    expect(misbehaved, `the ${misbehaviour.udf === undefined ? "sink" : "udf"} misbehaved`).toBe(1);
    expect(exits.at(-1)!.code, exits.at(-1)!.stderr.slice(-3000)).toBe(0);
    if (misbehaviour.violation === true) expect(protocolErrors, `protocol errors surfaced for ${misbehaviour.name}`).toBeGreaterThan(0);
    if (misbehaviour.refuses === true) expect(fallbackIds.size, "the batch the sink refused is in the fallback").toBeGreaterThan(1);
    return lostIds;
  }

  const trials = misbehaviours.map((misbehaviour, i) => ({ trial: i + 1, name: misbehaviour.name, misbehaviour: misbehaviour as Misbehaviour }));

  it.each(trials.filter((entry) => entry.misbehaviour.lossy !== true))("4.$trial $name", async ({ trial, misbehaviour }) => {
    expect(await trialOf(trial, misbehaviour, true)).toEqual([]);
  });

  // Once lossy (see Misbehaviour.lossy): repeated; WEIR_FAULTS_LOSSY_RUNS=20 for more.
  it.each(trials.filter((entry) => entry.misbehaviour.lossy === true))(
    "4.$trial $name — nothing lost over repeated runs",
    async ({ trial, misbehaviour }) => {
      const runs = Number(process.env["WEIR_FAULTS_LOSSY_RUNS"] ?? "3");
      for (let attempt = 0; attempt < runs; attempt += 1) expect(await trialOf(trial, misbehaviour, attempt === 0), `attempt ${attempt + 1}`).toEqual([]);
    },
    300_000,
  );
});
