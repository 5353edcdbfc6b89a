/**
 * `node --import tsx bench/startup.ts [--runs=5] [--root=<checkout>]`: how long the `weir` CLI takes to start and finish
 * a short command (issue 11's target: `weir --help` and `weir validate` under 300 ms), and the peak
 * RSS of `import "@weir/runtime"` (target < 60 MiB). Prints the median of `--runs` runs (5) of each.
 *
 * - wall: from spawning `node bin/weir.js …` to its exit, measured here.
 * - CPU: the child's own `process.cpuUsage()` (user + system, every thread) read on its `exit`
 *   event through a `--import`ed hook, so it counts Node's start-up too and not this process's.
 *
 * `--root` measures another built checkout of Weir (e.g. an older commit) the same way.
 *
 * Run it on an idle machine: on a busy one wall time says more about the neighbours than about
 * Weir (CPU time less so). Build first (`pnpm build`): it runs the built CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importRssMib } from "./import-rss.js";

const rootArg = process.argv.find((arg) => arg.startsWith("--root="));
const repoRoot = rootArg === undefined ? fileURLToPath(new URL("..", import.meta.url)) : path.resolve(rootArg.slice("--root=".length));
const weir = path.join(repoRoot, "packages/runtime/bin/weir.js");
const runsArg = process.argv.find((arg) => arg.startsWith("--runs="));
const runs = runsArg === undefined ? 5 : Number(runsArg.slice("--runs=".length));

// Appends the child's CPU time (ms) to the file WEIR_BENCH_CPU names when the CLI exits.
const cpuHook = `data:text/javascript,${encodeURIComponent(
  `import { appendFileSync } from "node:fs";
process.on("exit", () => { const { user, system } = process.cpuUsage(); appendFileSync(process.env.WEIR_BENCH_CPU, ((user + system) / 1000).toFixed(1) + "\\n"); });`,
)}`;

interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

function runOnce(args: readonly string[], cpuFile: string): Timing {
  rmSync(cpuFile, { force: true });
  const started = performance.now();
  const child = spawnSync(process.execPath, ["--import", cpuHook, weir, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, WEIR_BENCH_CPU: cpuFile },
  });
  const wallMs = performance.now() - started;
  if (child.status !== 0) throw new Error(`weir ${args.join(" ")} exited ${child.status}: ${child.stderr}`);
  return { wallMs, cpuMs: Number(readFileSync(cpuFile, "utf8").trim()) };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const dir = mkdtempSync(path.join(tmpdir(), "weir-startup-"));
try {
  const commands: readonly (readonly string[])[] = [["--help"], ["validate", "examples/demo.yaml"]];
  for (const args of commands) {
    const timings = Array.from({ length: runs }, () => runOnce(args, path.join(dir, "cpu")));
    const wall = median(timings.map((timing) => timing.wallMs));
    const cpu = median(timings.map((timing) => timing.cpuMs));
    console.log(`weir ${args.join(" ").padEnd(28)} wall ${wall.toFixed(0).padStart(4)} ms   CPU ${cpu.toFixed(0).padStart(4)} ms   (median of ${runs}; target < 300 ms)`);
  }
  const rss = median(Array.from({ length: runs }, () => importRssMib(repoRoot)));
  console.log(`import "@weir/runtime"${" ".repeat(15)}peak RSS ${rss.toFixed(1)} MiB (median of ${runs}; target < 60 MiB)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
