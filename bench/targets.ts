/**
 * Issue 12's targets (and issue #13's reduce cost), each computed from the rounds just run and printed beside its figure with
 * met / not met. Ratios divide two scenarios of the same round and the median over rounds is
 * kept, as for the main table. A target whose scenarios did not run says so instead of guessing.
 */
import type { ScenarioResult } from "./scenarios/measure.js";

/** One scenario's result in one round, with the Redis server's CPU per message for that run. */
export type RoundResult = ScenarioResult & { readonly redisCpuMicrosPerMsg: number };
export type Round = ReadonlyMap<string, RoundResult>;

export interface TargetRow {
  readonly target: string;
  readonly figure: string;
  readonly status: "met" | "not met" | "not measured";
}

export interface TargetContext {
  readonly rounds: readonly Round[];
  readonly importRssMib: number | undefined;
  /** XState events per partition-epoch in the memory cat pipeline (one `--count-events` run). */
  readonly eventsPerEpoch?: number;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median over rounds of `value(round)`, or undefined when a scenario it needs is missing. */
function perRound(rounds: readonly Round[], ids: readonly string[], value: (get: (id: string) => RoundResult) => number): number | undefined {
  if (rounds.length === 0 || ids.some((id) => !rounds[0]!.has(id))) return undefined;
  return median(rounds.map((round) => value((id) => round.get(id)!)));
}

function row(target: string, figure: number | undefined, format: (value: number) => string, met: (value: number) => boolean, missing: string): TargetRow {
  if (figure === undefined || Number.isNaN(figure)) return { target, figure: `– (${missing})`, status: "not measured" };
  return { target, figure: format(figure), status: met(figure) ? "met" : "not met" };
}

const ratio = (value: number) => `${value.toFixed(2)}×`;
const micros = (value: number) => `${value.toFixed(1)} µs/msg`;

export function evaluateTargets({ rounds, importRssMib, eventsPerEpoch }: TargetContext): TargetRow[] {
  // The targets that name 1M messages use the 1M run where there is one (full runs).
  const catId = rounds[0]?.has("weir-memory-cat-4-1m") === true ? "weir-memory-cat-4-1m" : "weir-memory-cat-4";
  const messages = rounds[0]?.get(catId)?.messages;
  const at = messages === undefined || messages >= 1_000_000 ? "" : ` (${messages.toLocaleString("en")} msgs; the target is at 1M)`;
  const rate = (a: string, b: string) => perRound(rounds, [a, b], (get) => get(a).msgsPerSec / get(b).msgsPerSec);
  const cpu = (a: string, b: string) => perRound(rounds, [a, b], (get) => get(a).cpuMicrosPerMsg / get(b).cpuMicrosPerMsg);
  return [
    // The issue counts the whole process, start-up included (older results lack the field: the run's own CPU).
    row("memory, gen → cat → sink, 4p: CPU ≤ 1.5 µs/msg, start-up included", perRound(rounds, [catId], (get) => get(catId).processCpuMicrosPerMsg ?? get(catId).cpuMicrosPerMsg), (v) => micros(v) + at, (v) => v <= 1.5, "weir-memory-cat-4 not run"),
    row("memory, gen → cat → sink, 4p: ≥ 0.7× the floor (plain loops)", rate("weir-memory-cat-4", "floor-memory-cat-4"), ratio, (v) => v >= 0.7, "floor-memory-cat-4 not run"),
    row("redis, gen → sink, 4p: ≥ 1.5× pipelined raw ioredis", rate("weir-redis-4", "raw-pipelined-4"), ratio, (v) => v >= 1.5, "raw-pipelined-4 not run"),
    row("redis, gen → sink, 4p: ≥ 15× BullMQ", rate("weir-redis-4", "bullmq"), ratio, (v) => v >= 15, "bullmq not run"),
    row("redis, gen → sink, 4p: Redis server CPU ≤ 2 µs/msg", perRound(rounds, ["weir-redis-4"], (get) => get("weir-redis-4").redisCpuMicrosPerMsg), micros, (v) => v <= 2, "weir-redis-4 not run"),
    row("redis, gen → cat → sink, 4p: ≥ 1.0× a two-hop raw loop", rate("weir-redis-cat-4", "raw-pipelined-cat-4"), ratio, (v) => v >= 1.0, "raw-pipelined-cat-4 not run"),
    row("memory, gen → sink: CPU at 16p ≤ 1.3× at 1p (batch 500)", cpu("weir-memory-16", "weir-memory-1"), ratio, (v) => v <= 1.3, "full run only"),
    row("memory, gen → sink, 4p: CPU at batch 100 ≤ 2× at 2000", cpu("weir-memory-4-b100", "weir-memory-4-b2000"), ratio, (v) => v <= 2, "full run only"),
    row("memory, reduce (count, fixed 1 s, 1,000 keys, 4p): CPU ≤ 2× the cat map's", cpu("weir-memory-reduce-4-k1000", "weir-memory-cat-4-k1000"), ratio, (v) => v <= 2, "weir-memory-reduce-4-k1000 not run"),
    row("redis, reduce (count, fixed 1 s, 1,000 keys, 4p): CPU ≤ 2× the cat map's", cpu("weir-redis-reduce-4-k1000", "weir-redis-cat-4-k1000"), ratio, (v) => v <= 2, "weir-redis-reduce-4-k1000 not run"),
    rssRow(perRound(rounds, [catId], (get) => get(catId).peakRssMb), messages ?? 0, at),
    row("memory, gen → cat → sink, 4p: ≤ 6 XState events per partition-epoch (DESIGN §7)", eventsPerEpoch, (v) => `${v.toFixed(1)} events`, (v) => v <= 6, "not counted"),
    row('import "@weir/runtime" < 60 MiB', importRssMib, (v) => `${v.toFixed(0)} MiB peak RSS`, (v) => v < 60, "not measured"),
  ];
}

/** Below the limit at fewer than 1M messages proves nothing about 1M (the buffers may not have filled). */
function rssRow(peak: number | undefined, messages: number, at: string): TargetRow {
  const result = row("peak RSS < 150 MiB, memory gen → cat → sink 4p", peak, (v) => `${v.toFixed(0)} MiB${at}`, (v) => v < 150, "weir-memory-cat-4 not run");
  return result.status === "met" && messages < 1_000_000 ? { ...result, status: "not measured" } : result;
}

export function formatTargets(rows: readonly TargetRow[]): string {
  const lines = ["| issue 12 target | measured | status |", "|---|---:|---|"];
  for (const r of rows) lines.push(`| ${r.target} | ${r.figure} | ${r.status} |`);
  return lines.join("\n");
}
