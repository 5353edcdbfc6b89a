import { describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "@weir/runtime";

const spec = () =>
  parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "stop-first" },
      spec: {
        vertices: [
          { name: "in", source: { generator: { total: 10, rpu: 1000, duration: "1s", msgSize: 8 } } },
          { name: "out", sink: { log: {} } },
        ],
        edges: [{ from: "in", to: "out" }],
      },
    },
    process.cwd(),
  );

/** Lets the stop's asynchronous end run to completion before anything else happens. */
const laterTick = () => new Promise((resolve) => setImmediate(resolve));

describe("a pipeline stopped before it was started", () => {
  it("start() in a later tick settles at once with the stop's reason, and opens nothing", async () => {
    const pipeline = createPipeline(spec());
    pipeline.stop("stopped by the test");
    await laterTick();
    await laterTick();
    const summary = await pipeline.start();
    expect(summary).toMatchObject({ status: "failed", reason: "stopped by the test", durationMs: 0 });
    expect(pipeline.actors.size).toBe(0);
  });

  it("start() in the same tick settles the same way", async () => {
    const pipeline = createPipeline(spec());
    pipeline.stop("stopped by the test");
    const summary = await pipeline.start();
    expect(summary).toMatchObject({ status: "failed", reason: "stopped by the test" });
    expect(pipeline.actors.size).toBe(0);
  });
});
