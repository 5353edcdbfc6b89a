/**
 * Scenario 7 (c) — oversized messages: a UDF pads every Nth message (N seeded) to 4 KiB, the sink
 * vertex has `limits.maxMessageSize: 1024` and a jsonl fallback. Every padded id must be in the
 * fallback file with the reason "oversized: …", every other id in the sink's output, none in
 * both, none lost, and the run must exit 0. (7a and 7b, the spec fuzz and non-UTF-8 values, are
 * unit tests: packages/runtime/test/spec-fuzz.test.ts and jsonl-binary.test.ts.)
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, scenarioFixture, expectedIds, outputFigures, protocolErrorsOf, recordFigures, seededRandom, startWorker, watchStalls, writeSpec } from "./support/harness.js";

const url = redisTestUrl();
const padUdf = fileURLToPath(new URL("./fixtures/pad-udf.mjs", import.meta.url));

describe.skipIf(url === undefined)("bad input", () => {
  const fixture = scenarioFixture(url, "input");
  const redisUrl = fixture.url;

  it("7.1 oversized messages go to the fallback, the rest to the sink", async () => {
    const seed = baseSeed + 701;
    const rng = seededRandom(seed);
    const total = rng.int(1_000, 2_000);
    const every = rng.int(3, 13);
    const partitions = rng.int(2, 4);
    const prefix = fixture.prefix("fi");
    const fallbackFile = path.join(fixture.dir, `${prefix}-fallback.jsonl`);
    const file = await writeSpec({
      dir: fixture.dir, name: "fi", prefix, redisUrl, total, rpu: total, partitions,
      udf: `{ module: { path: "${padUdf}", export: pad } }`,
      // The map's input is never padded, so the limit bites at the sink vertex only.
      limits: "readBatchSize: 50, readTimeout: 20ms, maxMessageSize: 1024",
      sinkExtra: `, fallback: { jsonl: { path: "${fallbackFile}" } }`,
    });
    const stalls = watchStalls(fixture.redis, prefix, total);
    const exit = await startWorker("all", [file], { FAULT_SINK_URL: redisUrl, FAULT_SINK_PREFIX: prefix, PAD_UDF_EVERY: String(every) }).exited;
    const maxStallMs = await stalls.stop();
    const figures = await outputFigures(fixture.redis, prefix, total);
    const letters = existsSync(fallbackFile)
      ? readFileSync(fallbackFile, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as { id: string; headers?: Record<string, string> })
      : [];
    const fallbackIds = new Set(letters.map((letter) => letter.id));
    const padded = expectedIds(total).filter((id) => Number(id.split("-").pop()) % every === 0);
    const lostIds = figures.lostIds.filter((id) => !fallbackIds.has(id));
    const output = new Set(await fixture.redis.smembers(`${prefix}:output`));
    recordFigures({
      scenario: "7 bad input", trial: `oversized every ${every}th, ${partitions}p, fallback ${fallbackIds.size}`, seed, messagesIn: total,
      ...figures, messagesOut: figures.messagesOut + fallbackIds.size, lost: lostIds.length, protocolErrors: protocolErrorsOf([exit]), maxStallMs, exactlyOnce: true,
    });
    expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(lostIds).toEqual([]);
    expect([...fallbackIds].sort()).toEqual([...padded].sort());
    expect(padded.filter((id) => output.has(id))).toEqual([]);
    for (const letter of letters) expect(letter.headers?.["x-weir-fallback-reason"], letter.id).toMatch(/^oversized: 4096 bytes > maxMessageSize 1024$/);
    expect(figures.duplicatedAfterDedup).toBe(0);
  });
});
