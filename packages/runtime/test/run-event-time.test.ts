import { describe, expect, it } from "vitest";
import { parseSpec } from "../src/spec/load-spec.js";
import { createEventTimeTracker } from "../src/ui/run-event-time.js";

const spec = parseSpec(
  {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "tracked" },
    spec: {
      watermark: { maxDelay: 0 },
      vertices: [
        { name: "in", partitions: 2, source: { generator: { total: 1 } } },
        { name: "counts", partitions: 2, udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: 1000 } } } } },
        { name: "out", sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "counts" },
        { from: "counts", to: "out" },
      ],
    },
  },
  "/base",
).spec;

describe("the dashboard's event time in weir run --ui", () => {
  it("shows each partition's committed watermark, its lag, the upstream writer holding it back since when, and a reduce vertex's open windows", () => {
    const tracker = createEventTimeTracker(spec, () => "me");
    tracker.observe("counts", 1, { watermark: 900, openWindows: 3 });
    const first = tracker.sample({ in: { 0: 1_000, 1: 700 }, counts: { 0: 700, 1: 700 } }, 2_000);
    const counts = first.find((view) => view.vertex === "counts")!;
    expect(counts.partitions[1]).toEqual({ partition: 1, watermark: 700, lagMs: 1_300, since: 2_000, heldBy: { writer: "in/1", processor: "me", watermark: 700, since: 2_000, live: true }, openWindows: 3, windows: [], reader: null });
    expect(counts.partitions[0]!.openWindows).toBe(0);
    // Unchanged a second later: still held since the first sample.
    const second = tracker.sample({ in: { 0: 1_500, 1: 700 }, counts: { 0: 700, 1: 700 } }, 3_000);
    expect(second.find((view) => view.vertex === "counts")!.partitions[1]!.heldBy).toMatchObject({ writer: "in/1", since: 2_000 });
    // A source has no upstream writer; a vertex whose writer has not committed yet is held by it.
    expect(second.find((view) => view.vertex === "in")!.partitions[0]).toMatchObject({ watermark: 1_500, heldBy: null, openWindows: null });
    expect(second.find((view) => view.vertex === "out")!.partitions[0]).toMatchObject({ watermark: null, heldBy: { writer: "counts/0", watermark: 700 } });
    const early = tracker.sample({ in: { 0: 1_500, 1: 700 } }, 3_000);
    expect(early.find((view) => view.vertex === "counts")!.partitions[0]).toMatchObject({ watermark: null, lagMs: null, heldBy: { writer: "in/1", watermark: 700 } });
    expect(early.find((view) => view.vertex === "out")!.partitions[0]).toMatchObject({ heldBy: { writer: "counts/0", watermark: null, processor: null } });
  });

  it("is empty for a pipeline without event time", () => {
    const plain = parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "plain" }, spec: { vertices: [{ name: "in", source: { generator: { total: 1 } } }, { name: "out", sink: { log: {} } }], edges: [{ from: "in", to: "out" }] } }, "/base").spec;
    expect(createEventTimeTracker(plain, () => null).sample({}, 0)).toEqual([]);
  });
});
