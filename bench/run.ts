/**
 * `pnpm bench [--quick] [--only=<ids>] [--tsx]`: runs every scenario in its own child process,
 * one after another, interleaved over several rounds, against a private redis-server; prints each scenario's
 * median and range, and its ratio to the baseline of the same round; writes
 * bench/results/<date>.json.
 *
 * Throughput rounds run flat out; a latency pass then runs each scenario at 50% of its
 * measured median rate, so p50/p99 describe a steady load, not a burst.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { startRedisServer } from "../packages/runtime/test/support/redis-server.js";
import { importRssMib } from "./import-rss.js";
import { redisCpuProbe } from "./redis-cpu.js";
import type { ScenarioResult } from "./scenarios/measure.js";
import { evaluateTargets, formatTargets, type RoundResult } from "./targets.js";

interface Scenario {
  readonly id: string;
  readonly script: string;
  readonly args: readonly string[];
  /** The scenario whose result of the same round this one is divided by. */
  readonly baseline?: string;
  /** Only in full runs: `--quick` must finish in under a minute. */
  readonly full?: boolean;
  /** Messages for this scenario instead of the run's (the targets that name 1M messages). */
  readonly messages?: number;
}

const quick = process.argv.includes("--quick");
const rounds = quick ? 1 : 3;
const messages = quick ? 50_000 : 200_000;
const bullmqMessages = quick ? 5_000 : 40_000;
const here = fileURLToPath(new URL(".", import.meta.url));
/**
 * Scenarios run as JavaScript compiled into bench/.build, not through tsx: tsx's loader thread
 * adds 40–90 MB of RSS and startup CPU to every scenario process, which is not what they
 * measure. `--tsx` runs the TypeScript sources as before.
 */
const useTsx = process.argv.includes("--tsx");

const scenarios: Scenario[] = [
  { id: "raw-1", script: "raw-ioredis.ts", args: ["--partitions", "1"], full: true },
  { id: "raw-4", script: "raw-ioredis.ts", args: ["--partitions", "4"] },
  { id: "raw-pipelined-4", script: "raw-pipelined.ts", args: ["--partitions", "4"] },
  { id: "raw-pipelined-cat-4", script: "raw-pipelined-cat.ts", args: ["--partitions", "4"] },
  { id: "bullmq", script: "bullmq.ts", args: ["--messages", String(bullmqMessages)] },
  { id: "weir-redis-1", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "1"], baseline: "raw-1", full: true },
  { id: "weir-redis-4", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4"], baseline: "raw-4" },
  { id: "weir-redis-cat-4", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--shape", "cat"], baseline: "raw-pipelined-cat-4" },
  { id: "weir-memory-1", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "1"], baseline: "raw-1", full: true },
  { id: "weir-memory-4", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4"], baseline: "raw-4" },
  { id: "weir-memory-cat-4", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--shape", "cat"], baseline: "raw-4" },
  { id: "floor-memory-cat-4", script: "floor.ts", args: ["--partitions", "4", "--shape", "cat"] },
  // Issue 12's CPU and peak RSS targets name 1M messages: measured there in full runs.
  { id: "weir-memory-cat-4-1m", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--shape", "cat"], messages: 1_000_000, full: true },
  // Flatness in partitions and batch size (issue 12): CPU per message is compared, not msgs/s.
  { id: "weir-memory-16", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "16"], baseline: "weir-memory-1", full: true },
  { id: "weir-memory-4-b100", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--batch", "100"], baseline: "weir-memory-4-b2000", full: true },
  { id: "weir-memory-4-b2000", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--batch", "2000"], full: true },
  // Ordered processing per key (issue #15 part 2): 1,000 keys, ordered ÷ unordered of the same round (target ≥ 0.5×).
  // Also the baseline of reduce (issue #13), whose target --quick checks.
  { id: "weir-memory-cat-4-k1000", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--shape", "cat", "--keys", "1000"] },
  { id: "weir-memory-cat-4-k1000-ordered", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--shape", "cat", "--keys", "1000", "--ordered"], baseline: "weir-memory-cat-4-k1000", full: true },
  { id: "weir-redis-cat-4-k1000", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--shape", "cat", "--keys", "1000"] },
  { id: "weir-redis-cat-4-k1000-ordered", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--shape", "cat", "--keys", "1000", "--ordered"], baseline: "weir-redis-cat-4-k1000", full: true },
  { id: "weir-redis-4-k1000-d2", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--keys", "1000", "--sink-delay", "2"], full: true },
  { id: "weir-redis-4-k1000-d2-ordered", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--keys", "1000", "--sink-delay", "2", "--ordered"], baseline: "weir-redis-4-k1000-d2", full: true },
  // Windowed reduce (issue #13): count per key and fixed 1 s window, 1,000 keys, 4 partitions; CPU per message ÷ the cat map's (target ≤ 2×).
  { id: "weir-memory-reduce-4-k1000", script: "weir.ts", args: ["--buffer", "memory", "--partitions", "4", "--shape", "reduce", "--keys", "1000"], baseline: "weir-memory-cat-4-k1000" },
  { id: "weir-redis-reduce-4-k1000", script: "weir.ts", args: ["--buffer", "redis", "--partitions", "4", "--shape", "reduce", "--keys", "1000"], baseline: "weir-redis-cat-4-k1000" },
];

async function compileScenarios(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const sources = (await readdir(`${here}scenarios`)).filter((file) => file.endsWith(".ts")).map((file) => `${here}scenarios/${file}`);
  const options = ["--outDir", `${here}.build`, "--rootDir", here, "--module", "nodenext", "--moduleResolution", "nodenext"];
  const result = spawnSync(process.execPath, [tsc, ...options, "--target", "es2022", "--skipLibCheck", "--types", "node", ...sources], { stdio: "inherit" });
  if (result.status !== 0) throw new Error(`compiling the scenarios failed (tsc exited ${result.status}); run with --tsx to skip compiling`);
}

function runScenario(scenario: Scenario, redisUrl: string, extra: readonly string[]): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const entry = useTsx ? ["--import", "tsx", `${here}scenarios/${scenario.script}`] : [`${here}.build/scenarios/${scenario.script.replace(/\.ts$/, ".js")}`];
    const args = [...entry, "--redis-url", redisUrl, "--messages", String(scenario.messages ?? messages), ...scenario.args, ...extra];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || line === "") reject(new Error(`${scenario.id} exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as ScenarioResult);
    });
  });
}

/** One run with `--count-events` (its inspector slows it: never a measured run); its first stderr line gives events per partition-epoch. */
function countEventsPerEpoch(scenario: Scenario, redisUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const entry = useTsx ? ["--import", "tsx", `${here}scenarios/${scenario.script}`] : [`${here}.build/scenarios/${scenario.script.replace(/\.ts$/, ".js")}`];
    const child = spawn(process.execPath, [...entry, "--redis-url", redisUrl, "--messages", "100000", ...scenario.args, "--count-events", "--prefix", "count-events"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("close", (code) => {
      const match = /per partition-epoch: ([\d.]+) events/.exec(err);
      if (code !== 0 || match === null) reject(new Error(`counting events exited ${code}: ${err}`));
      else resolve(Number(match[1]));
    });
  });
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (value: number, digits = 0) => value.toLocaleString("en", { maximumFractionDigits: digits });

if (!useTsx) await compileScenarios();
const redis = await startRedisServer();
const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",");
const selected = scenarios
  .filter((scenario) => !(quick && scenario.full === true))
  .filter((scenario) => only === undefined || only.includes(scenario.id) || scenarios.some((s) => only.includes(s.id) && s.baseline === scenario.id));
const byRound: Array<Map<string, RoundResult>> = [];
const redisCpu = redisCpuProbe(redis.url);
try {
  for (let round = 0; round < rounds; round += 1) {
    const results = new Map<string, RoundResult>();
    for (const scenario of selected) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${scenario.id}… `);
      const cpuBefore = await redisCpu.read();
      const result = await runScenario(scenario, redis.url, ["--prefix", `b${round}-${scenario.id}`]);
      const redisCpuMicrosPerMsg = ((await redisCpu.read()) - cpuBefore) * 1e6 / result.messages;
      process.stderr.write(`${fmt(result.msgsPerSec)} msgs/s\n`);
      results.set(scenario.id, { ...result, redisCpuMicrosPerMsg });
    }
    byRound.push(results);
  }
  // --quick skips the latency pass: it would double the run, and a 50,000-message burst says little about latency.
  const latency = new Map<string, ScenarioResult>();
  for (const scenario of quick ? [] : selected) {
    const rate = Math.round(median(byRound.map((round) => round.get(scenario.id)!.msgsPerSec)) / 2);
    process.stderr.write(`latency at 50% (${fmt(rate)} msgs/s): ${scenario.id}… `);
    const result = await runScenario(scenario, redis.url, ["--rate", String(rate), "--prefix", `lat-${scenario.id}`]);
    process.stderr.write(`p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms\n`);
    latency.set(scenario.id, result);
  }

  const rows = selected.map((scenario) => {
    const rates = byRound.map((round) => round.get(scenario.id)!.msgsPerSec);
    const ratios = scenario.baseline === undefined ? [] : byRound.map((round) => round.get(scenario.id)!.msgsPerSec / round.get(scenario.baseline!)!.msgsPerSec);
    const bullmqRatios = byRound.map((round) => round.get(scenario.id)!.msgsPerSec / (round.get("bullmq")?.msgsPerSec ?? Number.NaN));
    const last = byRound.at(-1)!.get(scenario.id)!;
    return {
      id: scenario.id,
      scenario: last.scenario,
      medianMsgsPerSec: median(rates),
      minMsgsPerSec: Math.min(...rates),
      maxMsgsPerSec: Math.max(...rates),
      ratioToBaseline: ratios.length > 0 ? median(ratios) : undefined,
      baseline: scenario.baseline,
      ratioToBullmq: median(bullmqRatios),
      p50Ms: latency.get(scenario.id)?.p50Ms,
      p99Ms: latency.get(scenario.id)?.p99Ms,
      cpuMicrosPerMsg: median(byRound.map((round) => round.get(scenario.id)!.cpuMicrosPerMsg)),
      redisCpuMicrosPerMsg: median(byRound.map((round) => round.get(scenario.id)!.redisCpuMicrosPerMsg)),
      peakRssMb: Math.max(...byRound.map((round) => round.get(scenario.id)!.peakRssMb)),
      allocatedBytesPerMsg: median(byRound.map((round) => round.get(scenario.id)!.allocatedBytesPerMsg ?? Number.NaN)),
    };
  });

  const header = "| scenario | msgs/s (median) | range | × baseline (same round) | × BullMQ | p50 / p99 ms at 50% | CPU µs/msg | Redis CPU µs/msg | allocated B/msg | peak RSS MiB |";
  const lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"];
  for (const row of rows) {
    const ratio = row.ratioToBaseline === undefined ? "baseline" : `${row.ratioToBaseline.toFixed(2)}× ${row.baseline}`;
    lines.push(
      `| ${row.scenario} | ${fmt(row.medianMsgsPerSec)} | ${fmt(row.minMsgsPerSec)}–${fmt(row.maxMsgsPerSec)} | ${ratio} | ${row.ratioToBullmq.toFixed(1)}× | ${row.p50Ms ?? "–"} / ${row.p99Ms ?? "–"} | ${row.cpuMicrosPerMsg.toFixed(1)} | ${row.redisCpuMicrosPerMsg.toFixed(1)} | ${Number.isNaN(row.allocatedBytesPerMsg) ? "–" : fmt(row.allocatedBytesPerMsg)} | ${fmt(row.peakRssMb)} |`,
    );
  }
  process.stdout.write(
    `\n${lines.join("\n")}\n\n${rounds} round(s), ${fmt(messages)} messages of ~100 bytes (BullMQ ${fmt(bullmqMessages)} jobs), ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, scenarios run ${useTsx ? "through tsx" : "compiled"}\n`,
  );
  process.stderr.write("XState events per partition-epoch (weir-memory-cat-4, 100,000 messages, --count-events)… ");
  const perEpoch = await countEventsPerEpoch(scenarios.find((scenario) => scenario.id === "weir-memory-cat-4")!, redis.url);
  process.stderr.write(`${perEpoch.toFixed(1)}\n`);
  const targets = evaluateTargets({ rounds: byRound, importRssMib: importRssMib(`${here}..`), eventsPerEpoch: perEpoch });
  process.stdout.write(`\n${formatTargets(targets)}\n\nload average at the end: ${os.loadavg().map((load) => load.toFixed(1)).join(" ")}\n`);
  await mkdir(`${here}results`, { recursive: true });
  const file = `${here}results/${new Date().toISOString().slice(0, 10)}${quick ? "-quick" : ""}.json`;
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), quick, rounds, messages, node: process.version, cpus: os.cpus().length, tsx: useTsx, loadAverage: os.loadavg(), rows, targets }, null, 2)}\n`);
  process.stderr.write(`wrote ${file}\n`);
} finally {
  redisCpu.close();
  await redis.stop();
}
