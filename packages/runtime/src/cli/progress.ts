/**
 * The progress line of `weir run` on a terminal: per vertex, the rate of acked messages over
 * the last interval and the totals so far, redrawn in place.
 */
import type { VertexCounts } from "../observability/vertex-counters.js";
import { monotonicNow } from "../time/monotonic-clock.js";

export interface ProgressLine {
  stop(): void;
}

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

export function startProgressLine(
  stream: NodeJS.WritableStream,
  counts: () => Readonly<Record<string, Readonly<VertexCounts>>>,
  intervalMs = 500,
): ProgressLine {
  let previous = counts();
  let previousAt = monotonicNow();
  const draw = () => {
    const now = monotonicNow();
    const current = counts();
    const seconds = Math.max(0.001, (now - previousAt) / 1000);
    const parts = Object.entries(current).map(([vertex, count]) => {
      const rate = (count.acked - (previous[vertex]?.acked ?? 0)) / seconds;
      return `${vertex} ${compact.format(rate)}/s ${compact.format(count.acked)} acked`;
    });
    stream.write(`\r\x1b[2K${parts.join(" │ ")}`);
    previous = current;
    previousAt = now;
  };
  const timer = setInterval(draw, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      stream.write("\r\x1b[2K");
    },
  };
}
