/**
 * Late messages end to end (issue #13): a source whose messages arrive far behind maxDelay, after
 * the reduce vertex's watermark has passed them. With a fallback they reach it (jsonl) with the
 * reason `late: …`, counted `late` and `fallback`; without one they are logged — aggregated, a
 * line per interval, not one per message — and counted. Never silent.
 *
 * The late messages are held back by the source until the reduce vertex's committed watermark is
 * past them (a condition, not a sleep), so they are late by construction.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "../src/index.js";
import { createJsonLogger } from "../src/observability/logger.js";
import { listsSource, recordingSink, reduceSpec, timed, waitUntil } from "./support/event-time-run.js";

const BASE = 1_700_000_000_000;
const ON_TIME = 200;
const LATE = 30;
const onTime = Array.from({ length: ON_TIME }, (_, i) => timed(`on-${i}`, [`k${i % 3}`], BASE + i * 50));
const late = Array.from({ length: LATE }, (_, i) => timed(`late-${i}`, [`k${i % 3}`], BASE + i));

async function runWithLateTail(fallback: Record<string, unknown> | undefined, logLines: string[]) {
  let reduceWatermark: Record<number, number> = {};
  const passed = () => [0, 1].every((p) => (reduceWatermark[p] ?? Number.NEGATIVE_INFINITY) >= BASE + 5_000);
  const { source } = listsSource([[...onTime, ...late]], {
    gate: (_partition, next) => (next >= ON_TIME ? waitUntil("the reduce vertex's watermark past the late messages", passed, 20_000, () => reduceWatermark) : undefined),
  });
  const { sink, results } = recordingSink();
  const spec = reduceSpec({ source: { generator: { total: 1 } }, sourcePartitions: 1, reducePartitions: 2, window: { fixed: { length: 1_000 } }, watermark: { maxDelay: 100 }, ...(fallback === undefined ? {} : { fallback }) });
  const pipeline = createPipeline(parseSpec(spec, "/base"), {
    sources: { in: source },
    sinks: { out: sink },
    logger: createJsonLogger({ level: "warn", write: (line) => void logLines.push(line) }),
    onEventTime: (vertex, partition, update) => {
      if (vertex === "counts" && update.watermark !== undefined) reduceWatermark = { ...reduceWatermark, [partition]: update.watermark };
    },
  });
  const summary = await pipeline.start();
  return { summary, results: results() };
}

describe("late messages at a reduce vertex", () => {
  it("reach the vertex's jsonl fallback with reason `late: …`, counted late and fallback; the on-time ones are counted", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "weir-late-"));
    const file = path.join(dir, "late.jsonl");
    const { summary, results } = await runWithLateTail({ jsonl: { path: file } }, []);
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: ON_TIME + LATE, late: LATE, fallback: LATE });
    const lines = (await readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { id: string; headers: Record<string, string> });
    expect(lines.map((line) => line.id).sort()).toEqual(late.map((message) => message.id).sort());
    for (const line of lines) expect(line.headers["x-weir-fallback-reason"]).toMatch(/^late: eventTime \d+ < watermark \d+/);
    const counted = results.reduce((sum, message) => sum + (JSON.parse(new TextDecoder().decode(message.value)) as { count: number }).count, 0);
    expect(counted).toBe(ON_TIME);
  });

  it("without a fallback: counted late and fallback, and logged aggregated (a few lines, not one per message)", async () => {
    const logLines: string[] = [];
    const { summary } = await runWithLateTail(undefined, logLines);
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ late: LATE, fallback: LATE });
    const aboutLate = logLines.filter((line) => line.includes("late: eventTime"));
    expect(aboutLate.length).toBeGreaterThan(0);
    expect(aboutLate.length).toBeLessThan(LATE / 3);
  });
});
