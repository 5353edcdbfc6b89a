/**
 * Sums a `.cpuprofile` (from `node --cpu-prof`) by where the time is spent: XState, GC, Weir's
 * packages, ioredis, Node internals, idle. Self time per sample, so each bucket is time spent in
 * that code itself, not in what it calls. `--top N` also lists the N costliest functions.
 *
 *   node --import tsx micro/profile-buckets.ts /tmp/prof/CPU.….cpuprofile [--top 25]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function bucketOf({ functionName, url }: ProfileNode["callFrame"]): string {
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)") return "(program): V8/native, unattributed";
  if (url.includes("/xstate/")) return "XState";
  if (url.includes("/ioredis/") || url.includes("/redis-parser/")) return "ioredis";
  if (url.includes("packages/actors/")) return "Weir actors (@weir/actors)";
  if (url.includes("packages/runtime/")) return "Weir runtime (buffers, forwarder, generator)";
  if (url.includes("/bench/")) return "the scenario (sink function, meter)";
  if (url.startsWith("node:") || url === "") return "Node internals and builtins";
  return "other";
}

const [file] = process.argv.slice(2).filter((arg) => !arg.startsWith("--") && !/^\d+$/.test(arg));
const top = process.argv.includes("--top") ? Number(process.argv[process.argv.indexOf("--top") + 1]) : 0;
const profile = JSON.parse(readFileSync(file!, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const buckets = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  const frame = byId.get(id)!.callFrame;
  total += delta;
  buckets.set(bucketOf(frame), (buckets.get(bucketOf(frame)) ?? 0) + delta);
  const name = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\/(node_modules|packages)\//, "")}:${frame.lineNumber + 1}`;
  functions.set(name, (functions.get(name) ?? 0) + delta);
});
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`];
for (const [bucket, us] of [...buckets].sort((a, b) => b[1] - a[1])) lines.push(`${pct(us)}  ${bucket}`);
if (top > 0) {
  lines.push("", `top ${top} functions (self time):`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(us)}  ${name}`);
}
process.stdout.write(`${lines.join("\n")}\n`);
