/**
 * Scenario 10 — a poison message that kills its worker: a map udf kills its own process on chosen
 * ids (SIGKILL, or the heap exhausted under --max-old-space-size=64), every time. The workers are
 * restarted like a supervisor would (same --replica) until they exit 0. With `maxDeliveries: 3`
 * each poison id must end in the map's fallback with "its worker died 3 times while processing
 * it", every other id in the sink's output, nothing lost, nothing twice after dedup. With two
 * replicas the dead one's entries are also claimed by the living one (the XCLAIM path).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import {
  baseSeed, expectedIds, outputFigures, protocolErrorsOf, recordFigures, scenarioFixture, seededRandom, startWorker, watchStalls, writeSpec, type Exit,
} from "./support/harness.js";

const url = redisTestUrl();
const killerUdf = fileURLToPath(new URL("./fixtures/killer-udf.mjs", import.meta.url));
/** Restarts per replica before a trial gives up: the loop the limit must end. */
const MAX_RUNS = 14;

describe.skipIf(url === undefined)("poison message", () => {
  const fixture = scenarioFixture(url, "poison");
  const redisUrl = fixture.url;

  /** Runs one replica again and again until it exits 0 (or MAX_RUNS); returns every exit. */
  async function supervise(replica: string, file: string, env: Record<string, string>): Promise<Exit[]> {
    const exits: Exit[] = [];
    while (exits.length < MAX_RUNS) {
      const exit = await startWorker(`all/${replica}`, [file, "--replica", replica], env).exited;
      exits.push(exit);
      if (exit.code === 0) break;
    }
    return exits;
  }

  it.each([
    { trial: 1, poisons: 1, mode: "kill", replicas: ["a"] },
    { trial: 2, poisons: 2, mode: "heap", replicas: ["a"] },
    { trial: 3, poisons: 1, mode: "kill", replicas: ["a", "b"] },
  ])("10.$trial $poisons poison id(s), $mode, replicas $replicas", async ({ trial, poisons, mode, replicas }) => {
    const seed = baseSeed + 1000 + trial;
    const rng = seededRandom(seed);
    const total = rng.int(600, 1_200);
    const partitions = rng.int(2, 4);
    const poisonIds = new Set<string>();
    while (poisonIds.size < poisons) poisonIds.add(`in-0-${rng.int(0, total - 1)}`);
    const prefix = fixture.prefix("fp");
    const fallbackFile = path.join(fixture.dir, `${prefix}-fallback.jsonl`);
    const file = await writeSpec({
      dir: fixture.dir, name: "fp", prefix, redisUrl, total, rpu: total, partitions,
      udf: `{ module: { path: "${killerUdf}", export: killer } }`,
      mapExtra: `, fallback: { jsonl: { path: "${fallbackFile}" } }`,
      limits: "readBatchSize: 50, readTimeout: 20ms, maxDeliveries: 3",
    });
    const env: Record<string, string> = {
      FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix, KILLER_UDF_IDS: [...poisonIds].join(","), KILLER_UDF_MODE: mode,
      ...(mode === "heap" ? { NODE_OPTIONS: "--max-old-space-size=64" } : {}),
    };
    const stalls = watchStalls(fixture.redis, prefix, total - poisons);
    const runs = await Promise.all(replicas.map((replica) => supervise(replica, file, env)));
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    const letters = existsSync(fallbackFile)
      ? readFileSync(fallbackFile, "utf8").split("\n").flatMap((line) => {
          try {
            return [JSON.parse(line) as { id: string; headers?: Record<string, string> }];
          } catch {
            return []; // a line a killed worker cut short
          }
        })
      : [];
    const fallbackIds = new Set(letters.map((letter) => letter.id));
    const lostIds = figures.lostIds.filter((id) => !fallbackIds.has(id));
    const output = new Set(await fixture.redis.smembers(`${prefix}:output`));
    const exits = runs.flat();
    recordFigures({
      scenario: "10 poison message", trial: `${poisons} ${mode}, ${replicas.length} replica(s), ${partitions}p, ${exits.length} runs`, seed, messagesIn: total,
      ...figures, messagesOut: figures.messagesOut + fallbackIds.size, lost: lostIds.length, protocolErrors: protocolErrorsOf(exits), maxStallMs, exactlyOnce: true,
    });
    for (const replicaRuns of runs) expect(replicaRuns.at(-1)!.code, replicaRuns.at(-1)!.stderr.slice(-3000)).toBe(0);
    expect(lostIds).toEqual([]);
    expect([...fallbackIds].sort()).toEqual([...poisonIds].sort());
    expect([...poisonIds].filter((id) => output.has(id))).toEqual([]);
    for (const letter of letters) expect(letter.headers?.["x-weir-fallback-reason"], letter.id).toMatch(/^its worker died 3 times while processing it/);
    expect(figures.duplicatedAfterDedup).toBe(0);
    expect(expectedIds(total).filter((id) => !poisonIds.has(id) && !output.has(id))).toEqual([]);
  }, 300_000);
});
