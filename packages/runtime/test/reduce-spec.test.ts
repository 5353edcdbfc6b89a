/** `groupBy` and `spec.watermark` (issue #13): what parses, what it means, and each error's path and fix. */
import { describe, expect, it } from "vitest";
import { pipelineJsonSchema } from "../src/spec/json-schema.js";
import { parseSpec } from "../src/spec/load-spec.js";
import { issuesOf } from "./support/spec-issues.js";

function doc(reduce: Record<string, unknown>, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "p" },
    spec: {
      vertices: [{ name: "in", source: { generator: { total: 10, keyCount: 4 } } }, { name: "counts", partitions: 4, ...reduce }, { name: "out", sink: { log: {} } }],
      edges: [
        { from: "in", to: "counts" },
        { from: "counts", to: "out" },
      ],
      ...spec,
    },
  };
}

const count = (groupBy: Record<string, unknown>) => ({ udf: { builtin: { name: "count" }, groupBy } });

describe("reduce spec", () => {
  it("puts groupBy on the vertex with durations in ms and defaults filled; spec.watermark likewise", () => {
    const { spec } = parseSpec(
      doc(count({ window: { sliding: { length: "10s", slide: "1s" } } }), { watermark: { maxDelay: "2s", idleSource: { threshold: "5s" } } }),
      "/base",
    );
    const vertex = spec.spec.vertices[1]!;
    expect(vertex.kind).toBe("udf");
    if (vertex.kind !== "udf") return;
    expect(vertex.udf).toEqual({ builtin: { name: "count" } });
    expect(vertex.groupBy).toEqual({ window: { sliding: { length: 10_000, slide: 1_000 } }, keyed: true, allowedLateness: 0 });
    expect(spec.spec.watermark).toEqual({ maxDelay: 2_000, idleSource: { threshold: 5_000, stepInterval: 1_000, incrementBy: 1_000 } });
  });

  it("a map udf has no groupBy", () => {
    const { spec } = parseSpec(doc({ udf: { builtin: { name: "cat" } } }), "/base");
    expect(spec.spec.vertices[1]).not.toHaveProperty("groupBy");
  });

  it.each([
    [count({ window: { fixed: { length: "1s" } }, keyed: false }), "spec.vertices[1].udf.groupBy.keyed", "partitions: 1"],
    [count({ window: { sliding: { length: "1s", slide: "2s" } } }), "spec.vertices[1].udf.groupBy.window.sliding.slide", "at most length"],
    [count({ window: {} }), "spec.vertices[1].udf.groupBy.window", "fixed"],
    [count({ window: { fixed: { length: 0 } } }), "spec.vertices[1].udf.groupBy.window.fixed.length", ""],
    [{ udf: { builtin: { name: "count" } } }, "spec.vertices[1].udf.builtin.name", "groupBy"],
    [{ udf: { builtin: { name: "cat" }, groupBy: { window: { fixed: { length: "1s" } } } } }, "spec.vertices[1].udf.groupBy", "count"],
    [{ udf: { builtin: { name: "sum" }, groupBy: { window: { fixed: { length: "1s" } } } } }, "spec.vertices[1].udf.builtin.field", "field"],
    [{ udf: { builtin: { name: "count", field: "x" }, groupBy: { window: { fixed: { length: "1s" } } } } }, "spec.vertices[1].udf.builtin.field", "remove"],
    [{ ...count({ window: { fixed: { length: "1s" } } }), ordered: { enabled: true } }, "spec.vertices[1].ordered", "remove"],
    [{ udf: { groupBy: { window: { fixed: { length: "1s" } } } } }, "spec.vertices[1].udf", "builtin"],
  ])("rejects %j at %s", (vertex, path, fix) => {
    const issue = issuesOf(doc(vertex)).find((candidate) => candidate.path === path);
    expect(issue, JSON.stringify(issuesOf(doc(vertex)))).toBeDefined();
    expect(`${issue!.message} ${issue!.hint ?? ""}`).toContain(fix);
  });

  it("a reduce vertex may run an external process (docs/protocol.md, role reduce)", () => {
    const { spec } = parseSpec(doc({ udf: { process: { command: ["python3", "reduce.py"] }, groupBy: { window: { fixed: { length: "1s" } } } } }), "/base");
    expect(spec.spec.vertices[1]).toMatchObject({ udf: { process: { command: ["python3", "reduce.py"], cwd: "/base" } }, groupBy: { window: { fixed: { length: 1_000 } } } });
  });

  it("the JSON Schema offers groupBy and watermark", () => {
    const text = JSON.stringify(pipelineJsonSchema());
    expect(text).toContain("groupBy");
    expect(text).toContain("allowedLateness");
    expect(text).toContain("idleSource");
  });
});
