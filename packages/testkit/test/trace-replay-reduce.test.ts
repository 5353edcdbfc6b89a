import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { windowKeeperMachine } from "@weir/actors";
import { createPipeline, parseSpec } from "@weir/runtime";
import { recordTrace, replayTrace } from "@weir/testkit";

// Issue #13: a reduce partition's windows are states of its `windowKeeper` actor, a child of the
// vertex's supervisor, so a recorded reduce run shows them and `weir trace replay` replays them.
const spec = () =>
  parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "reduce-traced" },
      spec: {
        buffer: { type: "memory" },
        limits: { readBatchSize: 16, readTimeout: "10ms" },
        vertices: [
          { name: "in", source: { generator: { total: 200, rpu: 2000, duration: "1s", msgSize: 16, keyCount: 4 } } },
          { name: "counts", partitions: 2, udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: "20ms" } } } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        edges: [
          { from: "in", to: "counts" },
          { from: "counts", to: "out" },
        ],
      },
    },
    tmpdir(),
  );

async function recordRun() {
  const trace = recordTrace({ pipeline: "reduce-traced" });
  const summary = await createPipeline(spec(), { inspect: trace.inspect }).start();
  trace.end();
  return { trace, summary };
}

describe("a recorded reduce run", () => {
  it("shows each partition's window keeper commit, close, emit and forget, and replays without divergence", async () => {
    const { trace, summary } = await recordRun();
    expect(summary.status).toBe("completed");
    const records = trace.records();
    for (const p of [0, 1]) {
      const states = new Set(records.filter((r) => r.k === "snap" && r.a === `counts/windows/${p}`).map((r) => JSON.stringify((r as { v: unknown }).v)));
      expect([...states].sort(), `counts/windows/${p}`).toEqual(['"closing"', '"committing"', '"emitting"', '"forgetting"', '"idle"']);
    }
    // Only the reduce vertex has keepers.
    expect(records.some((r) => "a" in r && typeof r.a === "string" && /^(in|out)\/windows\//.test(r.a))).toBe(false);
    const result = await replayTrace(trace);
    expect(result.divergence?.diff).toBeUndefined();
    expect(result.ok).toBe(true);
  });

  it("diverges at a window keeper whose guard changed", async () => {
    const { trace } = await recordRun();
    // A keeper that never sees a closed window: it goes back to idle instead of emitting.
    const neverCloses = windowKeeperMachine.provide({ guards: { hasClosedWindows: () => false } });
    const result = await replayTrace(trace, { windowKeeper: neverCloses });
    expect(result.ok).toBe(false);
    expect(result.divergence!.actor).toMatch(/^counts\/windows\/[01]$/);
    expect(result.divergence!.machine).toBe("windowKeeper");
  });
});
