/** `ordered` in the spec (issue #15 part 2): where it applies, what overrides what, and its errors. */
import { describe, expect, it } from "vitest";
import { pipelineJsonSchema } from "../src/spec/json-schema.js";
import { parseSpec } from "../src/spec/load-spec.js";
import { effectiveOrdered } from "../src/spec/pipeline-spec.js";
import { issuesOf } from "./support/spec-issues.js";

function doc(spec: Record<string, unknown> = {}, vertices?: Array<Record<string, unknown>>) {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "p" },
    spec: {
      vertices: vertices ?? [
        { name: "in", source: { generator: { total: 10 } } },
        { name: "enrich", udf: { builtin: { name: "cat" } } },
        { name: "out", sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "enrich" },
        { from: "enrich", to: "out" },
      ],
      ...spec,
    },
  };
}

describe("spec.ordered", () => {
  it("applies to udf and sink vertices; a vertex's own ordered overrides it; enabled defaults to true", () => {
    const { spec } = parseSpec(
      doc({ ordered: { enabled: true } }, [
        { name: "in", source: { generator: { total: 10 } } },
        { name: "enrich", udf: { builtin: { name: "cat" } }, ordered: { enabled: false } },
        { name: "out", sink: { log: {} } },
      ]),
      "/base",
    );
    expect(spec.spec.vertices.map((vertex) => effectiveOrdered(spec, vertex))).toEqual([false, false, true]);
    const only = parseSpec(doc({}, [
      { name: "in", source: { generator: { total: 10 } } },
      { name: "enrich", udf: { builtin: { name: "cat" } } },
      { name: "out", sink: { log: {} }, ordered: {} },
    ]), "/base").spec;
    expect(only.spec.vertices.map((vertex) => effectiveOrdered(only, vertex))).toEqual([false, false, true]);
  });

  it("a misspelt field gets a suggestion", () => {
    const issue = issuesOf(doc({ ordered: { enabeld: true } })).find((candidate) => candidate.path === "spec.ordered.enabeld");
    expect(issue?.hint).toBe("did you mean 'enabled'?");
  });

  it("a source vertex takes no ordered", () => {
    const issues = issuesOf(doc({}, [
      { name: "in", source: { generator: { total: 10 } }, ordered: { enabled: true } },
      { name: "enrich", udf: { builtin: { name: "cat" } } },
      { name: "out", sink: { log: {} } },
    ]));
    expect(issues.find((issue) => issue.path === "spec.vertices[0].ordered")?.message).toBe("a source vertex takes no ordered");
  });

  it("an ordered process sink is refused with the fix, whether ordered comes from spec or the vertex", () => {
    const processSink = { name: "out", sink: { process: { command: ["python3", "sink.py"] } } };
    const base = [{ name: "in", source: { generator: { total: 10 } } }, { name: "enrich", udf: { builtin: { name: "cat" } } }];
    const fromSpec = issuesOf(doc({ ordered: { enabled: true } }, [...base, processSink])).find((issue) => issue.path === "spec.vertices[2].sink.process");
    expect(fromSpec?.message).toMatch(/an ordered vertex cannot use a process sink/);
    expect(fromSpec?.hint).toMatch(/set ordered: \{ enabled: false \} on this vertex \(spec.ordered turns it on/);
    expect(() => parseSpec(doc({ ordered: { enabled: true } }, [...base, { ...processSink, ordered: { enabled: false } }]), "/base")).not.toThrow();
    expect(issuesOf(doc({}, [...base, { ...processSink, ordered: { enabled: true } }])).map((issue) => issue.path)).toContain("spec.vertices[2].sink.process");
  });

  it("weir schema knows it", () => {
    const text = JSON.stringify(pipelineJsonSchema());
    expect(text).toContain("Ordered processing per key");
  });
});
