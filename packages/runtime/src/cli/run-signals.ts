/**
 * What SIGINT/SIGTERM do to `weir run`, whatever phase it is in:
 *
 *   loading spec / observers ──signal──▶ not started: the run ends `drained`, nothing read
 *   pipeline starting/running ──1st──▶ pipeline.drain() (remembered until the actors run)
 *                             ──2nd──▶ pipeline.stop(): at once, unacked input stays pending
 *
 * The process keeps the signals from its first line (signals.ts), so none is lost to a slow
 * start-up.
 */
import type { Pipeline } from "../pipeline/create-pipeline.js";
import type { RunSummary } from "../observability/vertex-counters.js";
import { claimSignals } from "./signals.js";
import { elapsedSince } from "../time/monotonic-clock.js";

export interface RunSignals {
  /** How many signals arrived so far. */
  readonly count: () => number;
  /** From now on a signal drains (then stops) this pipeline. */
  attach(pipeline: Pipeline): void;
  /** Aborted by the first signal (ends waits before the start, such as --inspect-wait). */
  readonly aborted: AbortSignal;
  /** Resolves with a failed summary when a second signal stops the run at once. */
  readonly stopped: Promise<RunSummary>;
  release(): void;
}

export function watchRunSignals(/** a monotonicNow() reading */ startedAt: number, note: (line: string) => void, onSignal: () => void): RunSignals {
  let count = 0;
  let pipeline: Pipeline | undefined;
  const abort = new AbortController();
  let stop: (summary: RunSummary) => void = () => undefined;
  const stopped = new Promise<RunSummary>((resolve) => (stop = resolve));
  const release = claimSignals((signal) => {
    count += 1;
    onSignal();
    abort.abort();
    if (pipeline === undefined) return;
    if (count === 1) {
      note(`${signal}: draining — in-flight epochs finish and commit (send it again to stop at once)`);
      pipeline.drain();
    } else {
      const reason = `stopped by a second ${signal}; unacked input stays pending`;
      pipeline.stop(reason);
      // stop() ends a running pipeline at once; one still starting (a module loading, Redis
      // connecting) may not notice, so the command stops waiting for it here.
      stop({ status: "failed", pipeline: pipeline.name, durationMs: elapsedSince(startedAt), reason, vertices: pipeline.counts() });
    }
  });
  return {
    count: () => count,
    attach(value) {
      pipeline = value;
      if (count > 0) value.drain();
    },
    aborted: abort.signal,
    stopped,
    release,
  };
}
