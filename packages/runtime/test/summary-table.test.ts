import { describe, expect, it } from "vitest";
import { formatSummary } from "../src/cli/summary-table.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";

describe("the run summary table", () => {
  it("has a deduped column beside dropped", () => {
    const text = formatSummary({
      status: "completed",
      pipeline: "p",
      durationMs: 1200,
      vertices: { map: { ...emptyCounts(), read: 400, written: 300, acked: 400, ok: 400, deduped: 100 } },
    });
    const [, header, row] = text.split("\n");
    const columns = header!.trim().split(/\s+/);
    const cells = row!.trim().split(/\s+/);
    expect(columns).toEqual(["vertex", "read", "written", "acked", "ok", "fallback", "dropped", "deduped", "retriedLater", "heldBack", "late", "protocolErrors"]);
    expect(cells[columns.indexOf("deduped")]).toBe("100");
    expect(cells[columns.indexOf("dropped")]).toBe("0");
  });

  it("has a retriedLater column: messages parked by a retryLater answer", () => {
    const text = formatSummary({ status: "completed", pipeline: "p", durationMs: 1, vertices: { out: { ...emptyCounts(), ok: 10, retriedLater: 4 } } });
    const [, header, row] = text.split("\n");
    const columns = header!.trim().split(/\s+/);
    expect(row!.trim().split(/\s+/)[columns.indexOf("retriedLater")]).toBe("4");
  });

  it("has a heldBack column: messages held back behind their key (ordered)", () => {
    const text = formatSummary({ status: "completed", pipeline: "p", durationMs: 1, vertices: { out: { ...emptyCounts(), ok: 10, heldBack: 7 } } });
    const [, header, row] = text.split("\n");
    const columns = header!.trim().split(/\s+/);
    expect(row!.trim().split(/\s+/)[columns.indexOf("heldBack")]).toBe("7");
  });

  it("has a late column: messages a reduce vertex met behind its watermark", () => {
    const text = formatSummary({ status: "completed", pipeline: "p", durationMs: 1, vertices: { sums: { ...emptyCounts(), ok: 10, fallback: 3, late: 3 } } });
    const [, header, row] = text.split("\n");
    const columns = header!.trim().split(/\s+/);
    expect(row!.trim().split(/\s+/)[columns.indexOf("late")]).toBe("3");
  });
});
