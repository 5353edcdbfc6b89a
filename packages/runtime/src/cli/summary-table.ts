import type { RunSummary } from "../observability/vertex-counters.js";

const columns = ["read", "written", "acked", "ok", "fallback", "dropped", "deduped", "retriedLater", "heldBack", "late", "protocolErrors"] as const;

/** The human summary `weir run` prints at the end (the JSON one is `--json`). */
export function formatSummary(summary: RunSummary): string {
  const header = ["vertex", ...columns];
  const rows = Object.entries(summary.vertices).map(([vertex, count]) => [vertex, ...columns.map((column) => String(count[column]))]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  const status = summary.status === "failed" ? `failed: ${summary.reason ?? "unknown reason"}` : summary.status;
  return [`${summary.pipeline} ${status} in ${(summary.durationMs / 1000).toFixed(2)}s`, line(header), ...rows.map(line), ""].join("\n");
}
