/**
 * What every scenario reports, measured inside the scenario's own process: throughput, CPU
 * per message, peak RSS, and end-to-end latency percentiles when messages carry a send time.
 */
import { readFileSync } from "node:fs";
import { startHeapAllocation } from "../heap-allocation.js";
import { LatencyHistogram } from "./latency-histogram.js";

export interface ScenarioResult {
  readonly scenario: string;
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSec: number;
  readonly cpuMicrosPerMsg: number;
  /** The whole process's CPU (start-up and module loading included) ÷ messages: issue 12's "start-up included". */
  readonly processCpuMicrosPerMsg?: number;
  /**
   * The main thread's share of `processCpuMicrosPerMsg` (Linux only). The rest is V8's helper
   * threads: TurboFan compiling hot functions and the collector's parallel and concurrent work —
   * at `--batch 100` on the memory buffer ~40 % of the process's CPU, and most of what it adds
   * over `--batch 2000` beside XState's steps (issue 12, session 10).
   */
  readonly mainThreadCpuMicrosPerMsg?: number;
  readonly peakRssMb: number;
  /**
   * Bytes allocated on the JS heap ÷ messages (heap growth plus what each collection freed), and
   * the main thread's GC pauses in µs ÷ messages (issue 12, session 9: XState's garbage per step
   * makes scavenges frequent enough to promote the messages in flight, so both move together).
   */
  readonly allocatedBytesPerMsg?: number;
  readonly gcPauseMicrosPerMsg?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

export interface Meter {
  /** Records one end-to-end latency sample (ms). */
  latency(ms: number): void;
  finish(scenario: string, messages: number): ScenarioResult;
}

/**
 * The kernel's high-water mark of this process's RSS (Linux: VmHWM in /proc/self/status), in
 * bytes; 0 elsewhere. Sampling alone misses peaks: a pipeline on the memory buffer can run for
 * seconds on microtasks alone, and the sampling timer fires only when the event loop turns.
 */
function rssHighWaterMark(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * CPU time of this process's main thread since it started, in µs (Linux: the first field of
 * /proc/self/task/<pid>/schedstat, in ns); undefined where the kernel does not say.
 */
function mainThreadCpuMicros(): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
    return Number.isFinite(ns) ? ns / 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function startMeter(): Meter {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let peakRss = process.memoryUsage.rss();
  // Where the kernel keeps the high-water mark, sampling adds nothing to it (and cost 1.6 % of the
  // memory scenario's CPU with `memoryUsage()`, which gathers heap statistics too): sample elsewhere only.
  const sampler =
    rssHighWaterMark() > 0
      ? undefined
      : setInterval(() => {
          peakRss = Math.max(peakRss, process.memoryUsage.rss());
        }, 20);
  // Exact percentiles for whole-millisecond samples, at the cost of one counter per message (latency-histogram.ts).
  const latencies = new LatencyHistogram();
  // Costs one record per collection, nothing per message.
  const allocation = startHeapAllocation();
  return {
    latency: (ms) => latencies.record(ms),
    finish(scenario, messages) {
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage.rss(), rssHighWaterMark());
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpu);
      const whole = process.cpuUsage();
      const p50Ms = latencies.quantile(0.5);
      const p99Ms = latencies.quantile(0.99);
      const { bytes, gcPauseMicros } = allocation();
      const mainThread = mainThreadCpuMicros();
      return {
        scenario,
        messages,
        seconds,
        msgsPerSec: messages / seconds,
        cpuMicrosPerMsg: (used.user + used.system) / messages,
        processCpuMicrosPerMsg: (whole.user + whole.system) / messages,
        ...(mainThread === undefined ? {} : { mainThreadCpuMicrosPerMsg: Number((mainThread / messages).toFixed(3)) }),
        peakRssMb: peakRss / 1024 / 1024,
        allocatedBytesPerMsg: Math.round(bytes / messages),
        gcPauseMicrosPerMsg: Number((gcPauseMicros / messages).toFixed(3)),
        ...(p50Ms === undefined || p99Ms === undefined ? {} : { p50Ms, p99Ms }),
      };
    },
  };
}

export interface ScenarioArgs {
  readonly redisUrl: string;
  readonly messages: number;
  readonly partitions: number;
  readonly msgSize: number;
  /** Messages per second to send at; 0 sends as fast as possible. */
  readonly rate: number;
  readonly prefix: string;
}

export function parseScenarioArgs(argv: readonly string[]): ScenarioArgs {
  const get = (name: string, fallback: string) => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1]! : fallback;
  };
  return {
    redisUrl: get("redis-url", "redis://127.0.0.1:6379"),
    messages: Number(get("messages", "200000")),
    partitions: Number(get("partitions", "1")),
    msgSize: Number(get("msg-size", "100")),
    rate: Number(get("rate", "0")),
    prefix: get("prefix", `bench-${process.pid}`),
  };
}

/** Paces a producer to `rate` messages per second (0: no pacing). */
export async function pace(sent: number, rate: number, startedAt: number): Promise<void> {
  if (rate <= 0) return;
  const due = startedAt + (sent / rate) * 1000;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

export function report(result: ScenarioResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
