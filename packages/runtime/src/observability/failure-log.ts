/**
 * Aggregated logs of what happens to many messages at once: failed attempts (udf or sink),
 * drops and dedups. One message per attempt would bury a log (issue #11: 2,145 identical lines
 * for 715 failing messages), none at all hides them (issue #10 items 8 and 9). So every event is
 * counted per vertex and kind, and one line per (vertex, kind) is written per interval and at
 * the end of the run, with the count, the first and the last reason, and the attempts seen.
 *
 *   failed / dropped / deduped ──▶ tally[vertex, kind] ──every intervalMs, and flush()──▶ logger.warn
 */
import { monotonicNow } from "../time/monotonic-clock.js";
import type { Logger } from "./logger.js";

/** What happened to the messages an entry counts. */
export type FailureKind = "udfFailed" | "sinkFailed" | "forwardFailed" | "dropped" | "deduped" | "retriedLater" | "late";

const messages: Record<FailureKind, string> = {
  udfFailed: "udf failed for messages (each is retried, then routed by onFailure)",
  sinkFailed: "sink failed messages (each is retried, then routed by onFailure)",
  forwardFailed: "writing results downstream failed for messages (the attempt is retried)",
  dropped: "messages dropped",
  deduped: "messages not written again: already written (deduplicated)",
  retriedLater: "messages answered retryLater: parked, each comes back after its delay",
  late: "late messages (event time behind the watermark) sent to the fallback",
};

interface Tally {
  count: number;
  first: string;
  last: string;
  minAttempt: number;
  maxAttempt: number;
}

export interface FailureLog {
  /** `count` messages of `vertex` had `kind` happen to them, for `reason` (at `attempt`, when it applies). */
  record(vertex: string, kind: FailureKind, count: number, reason: string, attempt?: number): void;
  /** The last failure reason recorded for `vertex` (udf or sink), to explain a later drop. */
  lastFailure(vertex: string): string | undefined;
  /** Writes one line per (vertex, kind) counted since the last flush. */
  flush(): void;
  /** Flushes and stops the interval timer. */
  close(): void;
}

export interface FailureLogOptions {
  /** How often counted events are written (default 5 s). */
  readonly intervalMs?: number;
}

export function createFailureLog(logger: Logger, options: FailureLogOptions = {}): FailureLog {
  const tallies = new Map<string, { vertex: string; kind: FailureKind; tally: Tally }>();
  const lastFailures = new Map<string, string>();
  let since = monotonicNow();
  const flush = () => {
    const window = { sinceMs: monotonicNow() - since };
    since = monotonicNow();
    for (const { vertex, kind, tally } of tallies.values()) {
      logger.warn(messages[kind], {
        vertex,
        count: tally.count,
        firstReason: tally.first,
        ...(tally.last === tally.first ? {} : { lastReason: tally.last }),
        ...(tally.maxAttempt === 0 ? {} : { attempts: tally.minAttempt === tally.maxAttempt ? tally.maxAttempt : `${tally.minAttempt}-${tally.maxAttempt}` }),
        ...window,
      });
    }
    tallies.clear();
  };
  const timer = setInterval(flush, options.intervalMs ?? 5_000);
  timer.unref();
  return {
    record(vertex, kind, count, reason, attempt = 0) {
      if (count <= 0) return;
      if (kind !== "dropped" && kind !== "deduped" && kind !== "retriedLater") lastFailures.set(vertex, reason);
      const key = `${vertex}\u0000${kind}`;
      const entry = tallies.get(key);
      if (entry === undefined) {
        tallies.set(key, { vertex, kind, tally: { count, first: reason, last: reason, minAttempt: attempt, maxAttempt: attempt } });
        return;
      }
      const { tally } = entry;
      tally.count += count;
      tally.last = reason;
      tally.minAttempt = Math.min(tally.minAttempt, attempt);
      tally.maxAttempt = Math.max(tally.maxAttempt, attempt);
    },
    lastFailure: (vertex) => lastFailures.get(vertex),
    flush,
    close() {
      clearInterval(timer);
      flush();
    },
  };
}
