/** Peak RSS (MiB) of a fresh Node process that does nothing but `import "@weir/runtime"`. */
import { spawnSync } from "node:child_process";

const script = `await import("@weir/runtime");
const hwm = /^VmHWM:\\s+(\\d+)\\s+kB$/m.exec((await import("node:fs")).readFileSync("/proc/self/status", "utf8"));
process.stdout.write(String(hwm === null ? process.memoryUsage().rss : Number(hwm[1]) * 1024));`;

/** Runs from `cwd` (the repository root, where `@weir/runtime` resolves to the built package). */
export function importRssMib(cwd: string): number {
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" });
  if (child.status !== 0) throw new Error(`measuring the import's RSS failed (exit ${child.status}): ${child.stderr}`);
  return Number(child.stdout) / 1024 / 1024;
}
