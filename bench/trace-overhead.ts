/**
 * How much `weir run --trace` (and `--metrics-port`, `--inspect` with no browser attached)
 * costs on the in-memory demo pipeline.
 *
 *   pnpm build && node --import tsx bench/trace-overhead.ts [--messages 200000] [--rounds 5]
 *
 * Runs the built CLI on a demo-shaped spec (generator → cat ×4 → blackhole ×4) with a high
 * rate, alternating the configurations round by round so drift hits them all alike, and prints
 * for each the median run time (the summary's durationMs) and the median CPU time of the
 * process (user + system, from a preload that reports `process.cpuUsage()` at exit — steadier
 * than wall time on a shared machine), the overhead against the plain run, and the trace's size.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "200000" }, rounds: { type: "string", default: "5" } },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const cli = fileURLToPath(new URL("../packages/runtime/bin/weir.js", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "weir-bench-"));
const spec = path.join(dir, "bench.yaml");
const cpuFile = path.join(dir, "cpu.json");
const cpuPreload = path.join(dir, "cpu-at-exit.mjs");
writeFileSync(
  cpuPreload,
  `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(${JSON.stringify(cpuFile)}, JSON.stringify(process.cpuUsage())));\n`,
);
writeFileSync(
  spec,
  `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: bench }
spec:
  buffer: { type: memory }
  limits: { readBatchSize: 500, readTimeout: 100ms }
  vertices:
    - name: in
      source: { generator: { total: ${messages}, rpu: ${messages}, duration: 1s, msgSize: 64, keyCount: 16 } }
    - name: cat
      partitions: 4
      udf: { builtin: { name: cat } }
    - name: out
      partitions: 4
      sink: { blackhole: {} }
  edges:
    - { from: in, to: cat }
    - { from: cat, to: out }
`,
);

interface Config {
  readonly name: string;
  readonly args: (round: number) => string[];
  readonly trace?: (round: number) => string;
}
const traceFile = (round: number) => path.join(dir, `run-${round}.trace.jsonl`);
const configs: Config[] = [
  { name: "plain", args: () => [] },
  { name: "--trace", args: (round) => ["--trace", traceFile(round)], trace: traceFile },
  { name: "--metrics-port 0", args: () => ["--metrics-port", "0"] },
  { name: "--inspect=0", args: () => ["--inspect=0"] },
];

const times = new Map<string, number[]>(configs.map((config) => [config.name, []]));
const cpu = new Map<string, number[]>(configs.map((config) => [config.name, []]));
const sizes: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  for (const config of configs) {
    const args = ["--import", pathToFileURL(cpuPreload).href, cli, "run", spec, "--json", ...config.args(round)];
    const out = execFileSync(process.execPath, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
    const summary = JSON.parse(out.trim().split("\n").at(-1)!) as { status: string; durationMs: number };
    if (summary.status !== "completed") throw new Error(`${config.name}: the run did not complete`);
    times.get(config.name)!.push(summary.durationMs);
    const usage = JSON.parse(readFileSync(cpuFile, "utf8")) as { user: number; system: number };
    cpu.get(config.name)!.push(Math.round((usage.user + usage.system) / 1000));
    if (config.trace !== undefined) {
      sizes.push(statSync(config.trace(round)).size);
      rmSync(config.trace(round));
    }
  }
}
rmSync(dir, { recursive: true, force: true });

const median = (list: readonly number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const overhead = (value: number, base: number) => `${value >= base ? "+" : ""}${(((value - base) / base) * 100).toFixed(0)}%`;
const baseTime = median(times.get("plain")!);
const baseCpu = median(cpu.get("plain")!);
console.log(`${messages} messages, ${rounds} rounds, node ${process.version}; medians, overhead against the plain run`);
for (const config of configs) {
  const wall = median(times.get(config.name)!);
  const used = median(cpu.get(config.name)!);
  const vs = config.name === "plain" ? "" : ` (${overhead(wall, baseTime)})`;
  const cpuVs = config.name === "plain" ? "" : ` (${overhead(used, baseCpu)})`;
  console.log(`${config.name.padEnd(18)} run ${String(Math.round(wall)).padStart(6)} ms${vs.padEnd(8)}  cpu ${String(used).padStart(6)} ms${cpuVs.padEnd(8)}  runs: ${times.get(config.name)!.join(", ")}`);
}
console.log(`trace size: median ${(median(sizes) / 1024 / 1024).toFixed(1)} MiB (${Math.round(median(sizes) / messages)} bytes per message)`);
