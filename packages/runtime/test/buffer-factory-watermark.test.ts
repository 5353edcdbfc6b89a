/** The input buffers of a pipeline with event time expect every upstream partition's watermark (issue #13). */
import { describe, expect, it } from "vitest";
import { MemoryBuffer } from "../src/buffer/index.js";
import { createVertexBuffer, watermarkBufferOptions, type BufferContext } from "../src/pipeline/buffer-factory.js";
import { parseSpec } from "../src/spec/load-spec.js";

function doc(middle: Record<string, unknown>, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "p" },
    spec: {
      vertices: [
        { name: "a", partitions: 2, source: { generator: { total: 10, keyCount: 4 } } },
        { name: "b", partitions: 1, source: { generator: { total: 10, keyCount: 4 } } },
        { name: "mid", partitions: 3, ...middle },
        { name: "out", sink: { log: {} } },
      ],
      edges: [
        { from: "a", to: "mid" },
        { from: "b", to: "mid" },
        { from: "mid", to: "out" },
      ],
      ...spec,
    },
  };
}

const reduce = { udf: { builtin: { name: "count" }, groupBy: { window: { fixed: { length: "10s" } } } } };
const map = { udf: { builtin: { name: "cat" } } };

describe("watermark options of vertex buffers", () => {
  it("lists U/0 … U/(P_U − 1) of every edge U→V when the pipeline has a reduce vertex", () => {
    const { spec } = parseSpec(doc(reduce), "/base");
    expect(watermarkBufferOptions(spec, "mid")).toEqual({ watermarkWriters: ["a/0", "a/1", "b/0"] });
    expect(watermarkBufferOptions(spec, "out")).toEqual({ watermarkWriters: ["mid/0", "mid/1", "mid/2"] });
  });

  it("sets processorTimeoutMs = claimIdle on Redis, and spec.watermark alone turns event time on", () => {
    const { spec } = parseSpec(doc(map, { watermark: { maxDelay: "1s" }, buffer: { type: "redis", url: "redis://127.0.0.1:1", claimIdle: "7s" } }), "/base");
    expect(watermarkBufferOptions(spec, "out")).toEqual({ watermarkWriters: ["mid/0", "mid/1", "mid/2"], processorTimeoutMs: 7_000 });
  });

  it("leaves the buffers of a pipeline without event time as they were", async () => {
    const { spec } = parseSpec(doc(map), "/base");
    expect(watermarkBufferOptions(spec, "mid")).toEqual({});
    const buffer = createVertexBuffer({ spec } satisfies BufferContext, "mid");
    expect(buffer).toBeInstanceOf(MemoryBuffer);
    await expect(buffer.writeWatermark(0, { writer: "a/0", processor: "w", watermark: 1 })).rejects.toMatchObject({ code: "BUFFER_UNKNOWN_WRITER" });
    await buffer.close();
  });

  it("builds the buffer with them: its reads report the watermark once every writer marked", async () => {
    const { spec } = parseSpec(doc(reduce), "/base");
    const buffer = createVertexBuffer({ spec }, "mid");
    for (const writer of ["a/0", "a/1"]) await buffer.writeWatermark(0, { writer, processor: "w", watermark: 5 });
    expect((await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 })).watermark).toBeUndefined();
    await buffer.writeWatermark(0, { writer: "b/0", processor: "w", watermark: 4 });
    expect((await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 })).watermark).toBe(4);
    await buffer.close();
  });
});
