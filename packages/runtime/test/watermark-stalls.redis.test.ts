/**
 * A dead processor (issue #13's named regression; Numaflow: a watermark held for ever by a
 * processor that is gone — numaflow #890 "watermark stops progressing when one of the input pods
 * fails to read messages"), on real Redis with real processes:
 *
 *   in (generator) ──▶ cat × 2 partitions, two map workers m1 m2 ──▶ counts (reduce) ──▶ out (jsonl)
 *                      m1 SIGKILLed mid-run
 *
 * m1's marks stop. After processorTimeoutMs (= claimIdle, 1 s here) its last mark no longer holds
 * the reduce vertex's watermark back: windows that start after the kill close and are emitted.
 * Its pending entries are claimed by m2 and processed; any of them late is in the reduce vertex's
 * fallback (a jsonl file) with its reason and counted `late` — nothing silent.
 *
 * None of them is late (the second case): m2 read past m1's entries in the same consumer group, so
 * m2's own watermark is later than their event times, and the reduce reader drops m1's last mark
 * after processorTimeoutMs. But once m1's entries have been pending, idle, for claimIdle/2, m2
 * caps its marks of writer cat/p by their event times (pipeline/pending-cap.ts) until they are
 * claimed and acknowledged: m2's marks hold the reduce vertex back before m1's stop counting.
 */
import { fileURLToPath } from "node:url";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "../src/index.js";
import { countOf, recordingSink, reduceSpec, waitUntil } from "./support/event-time-run.js";
import { redisTestUrl, uniquePrefix } from "./support/redis-server.js";
import { pendingOf, scenarioFixture, startWorker, waitFor } from "../../../faults/support/harness.js";

const url = redisTestUrl();
const udfModule = fileURLToPath(new URL("./fixtures/slow-cat.mjs", import.meta.url));
const PIPELINE = "wmdead";
const CLAIM_IDLE_MS = 1_000;

async function linesOf(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.skipIf(url === undefined)("watermark stalls on Redis", () => {
  const fixture = scenarioFixture(url, "wmdead");

  async function runKill() {
    const prefix = fixture.prefix(PIPELINE);
    const out = path.join(fixture.dir, `${prefix}-out.jsonl`);
    const late = path.join(fixture.dir, `${prefix}-late.jsonl`);
    const file = path.join(fixture.dir, `${prefix}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        `metadata: { name: ${PIPELINE} }`,
        "spec:",
        `  buffer: { type: redis, url: "${fixture.url}", keyPrefix: ${prefix}, claimIdle: ${CLAIM_IDLE_MS}ms }`,
        "  watermark: { maxDelay: 0s }",
        "  limits: { readBatchSize: 20, readTimeout: 20ms }",
        "  vertices:",
        "    - { name: in, source: { generator: { rpu: 300, duration: 1s, keyCount: 5 } } }",
        `    - { name: cat, partitions: 2, udf: { module: { path: "${udfModule}", export: udf } } }`,
        `    - { name: counts, partitions: 2, udf: { builtin: { name: count }, groupBy: { window: { fixed: { length: 300ms } }, keyed: true } }, fallback: { jsonl: { path: "${late}" } } }`,
        `    - { name: out, sink: { jsonl: { path: "${out}" } } }`,
        "  edges:",
        "    - { from: in, to: cat }",
        "    - { from: cat, to: counts }",
        "    - { from: counts, to: out }",
        "",
      ].join("\n"),
    );
    const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
    const env = { SLOW_CAT_MS: "3" };
    const main = startWorker("main", args("main", "in,counts,out"), env);
    const m1 = startWorker("m1", args("m1", "cat"), env);
    const m2 = startWorker("m2", args("m2", "cat"), env);
    const holding = async () => pendingOf(fixture.redis, prefix, PIPELINE, "cat", `${PIPELINE}-m1`, 2);

    await waitFor("windows to be emitted", async () => (await linesOf(out)).length >= 3, 60_000);
    await waitFor("m1 to hold entries", async () => (await holding()) > 0, 30_000);
    m1.child.kill("SIGKILL");
    await m1.exited;
    const killedAt = Date.now();

    // After claimIdle the dead processor's last mark stops holding the watermark: windows that
    // began after the kill close. Bound: claimIdle + a few seconds.
    await waitFor(
      "a window that started after the kill to be emitted",
      async () => (await linesOf(out)).some((line) => (JSON.parse(String(line["value"])) as { start: number }).start > killedAt),
      CLAIM_IDLE_MS + 10_000,
    );
    await waitFor("m1's pending entries to be claimed", async () => (await holding()) === 0, CLAIM_IDLE_MS + 10_000);

    main.child.kill("SIGTERM");
    m2.child.kill("SIGTERM");
    const exits = await Promise.all([main.exited, m2.exited]);
    for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    const lateLines = (await linesOf(late)).map((line) => ({ id: line["id"], reason: (line["headers"] as Record<string, string>)["x-weir-fallback-reason"] }));
    const summary = JSON.parse(exits[0]!.stdout.trim().split("\n").filter((line) => line.startsWith("{")).pop() ?? "{}") as { vertices?: Record<string, { late?: number; fallback?: number }> };
    const ids = (await linesOf(out)).map((line) => line["id"]);
    return { lateLines, counted: summary.vertices?.["counts"], ids };
  }

  it("dead processor (numaflow #890): a SIGKILLed map worker stops holding the watermark after claimIdle; windows close again; its entries are claimed; whatever is late is in the fallback with its reason and counted", async () => {
    const { lateLines, counted, ids } = await runKill();
    for (const line of lateLines) expect(line.reason).toMatch(/^late: eventTime \d+ < watermark \d+/);
    expect(counted).toMatchObject({ late: lateLines.length, fallback: lateLines.length });
    expect(new Set(ids).size).toBe(ids.length);
  }, 120_000);

  // The cap in this file's header: the living worker's marks hold the watermark at the dead one's
  // entries until they are claimed and committed downstream.
  it("dead processor: none of its claimed entries is late (a living worker's marks are capped by the dead one's idle entries)", async () => {
    const { lateLines } = await runKill();
    expect(lateLines, "messages late because of the dead processor").toEqual([]);
  }, 120_000);

  it("idle reduce partition on Redis (numaflow #627): one key over 4 reduce partitions, windows close and are emitted within idleSource.threshold + a few seconds", async () => {
    const { sink, results } = recordingSink();
    const spec = reduceSpec({
      name: "wmidle",
      buffer: { type: "redis", url: fixture.url, keyPrefix: fixture.prefix("wmidle") },
      source: { generator: { rpu: 300, duration: "1s", keyCount: 1 } },
      reducePartitions: 4,
      window: { fixed: { length: 200 } },
      watermark: { maxDelay: 0, idleSource: { threshold: 300, stepInterval: 100, incrementBy: 100 } },
    });
    const pipeline = createPipeline(parseSpec(spec, "/base"), { sinks: { out: sink }, consumer: uniquePrefix("c") });
    const run = pipeline.start();
    try {
      await waitUntil(
        "a closed window downstream and the sink's watermark past it",
        () => {
          const first = results()[0];
          const out = pipeline.watermarks()["out"];
          return first !== undefined && out?.[0] !== undefined && out[1] !== undefined && Math.min(out[0], out[1]) >= countOf(first).end - 1;
        },
        300 + 8_000,
        () => ({ results: results().length, watermarks: pipeline.watermarks() }),
      );
      expect(pipeline.counts()["counts"]?.late).toBe(0);
    } finally {
      pipeline.stop();
      await run;
    }
  }, 30_000);
});
