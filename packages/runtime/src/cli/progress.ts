/**
 * The progress line of `weir run` on a terminal: per vertex, the rate of acked messages over
 * the last interval and the totals so far, redrawn in place.
 */
import type { VertexCounts } from "../observability/vertex-counters.js";
import { monotonicNow } from "../time/monotonic-clock.js";

export interface ProgressLine {
  stop(): void;
}

/** Acked messages per vertex at one moment. */
export interface ProgressSnapshot {
  readonly atMs: number;
  readonly acked: Readonly<Record<string, number>>;
}

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/**
 * A copy of the acked counts: `counts()` hands out the live counter objects, so keeping them
 * as "the previous snapshot" compared every counter with itself and always showed `0/s`.
 */
export function progressSnapshot(counts: Readonly<Record<string, Readonly<VertexCounts>>>, atMs: number): ProgressSnapshot {
  return { atMs, acked: Object.fromEntries(Object.entries(counts).map(([vertex, count]) => [vertex, count.acked])) };
}

/** `in 12.3K/s 40.1K acked │ out …`: the rate between two snapshots and the later total. */
export function formatProgress(previous: ProgressSnapshot, current: ProgressSnapshot): string {
  const seconds = Math.max(0.001, (current.atMs - previous.atMs) / 1000);
  return Object.entries(current.acked)
    .map(([vertex, acked]) => `${vertex} ${compact.format((acked - (previous.acked[vertex] ?? 0)) / seconds)}/s ${compact.format(acked)} acked`)
    .join(" │ ");
}

export function startProgressLine(
  stream: NodeJS.WritableStream,
  counts: () => Readonly<Record<string, Readonly<VertexCounts>>>,
  intervalMs = 500,
): ProgressLine {
  let previous = progressSnapshot(counts(), monotonicNow());
  const draw = () => {
    const current = progressSnapshot(counts(), monotonicNow());
    stream.write(`\r\x1b[2K${formatProgress(previous, current)}`);
    previous = current;
  };
  const timer = setInterval(draw, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      stream.write("\r\x1b[2K");
    },
  };
}
