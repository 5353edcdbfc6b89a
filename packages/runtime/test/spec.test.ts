import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpecError, type SpecIssue } from "../src/errors.js";
import { parseDuration } from "../src/spec/duration.js";
import { pipelineJsonSchema } from "../src/spec/json-schema.js";
import { loadSpec, parseSpec } from "../src/spec/load-spec.js";
import { issuesOf } from "./support/spec-issues.js";
import { effectiveLimits, effectiveOnFailure, type PipelineSpec, type VertexSpec } from "../src/spec/pipeline-spec.js";

// The demo of DESIGN §4, with a jsonl fallback in place of bullmq (which needs a Redis url).
const DEMO_YAML = `
apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: demo }
spec:
  buffer: { type: memory }
  limits: { readBatchSize: 500, readTimeout: 100ms, bufferMaxLength: 30000, bufferUsageLimit: 0.8 }
  vertices:
    - name: in
      source: { generator: { total: 100000, rpu: 5000, duration: 1s, msgSize: 64, keyCount: 16 } }
    - name: enrich
      partitions: 4
      udf: { module: { path: ./udfs.ts, export: enrich } }
    - name: out
      partitions: 4
      commit: aligned
      sink:
        jsonl: { path: ./out.jsonl }
        retryStrategy: { backoff: { interval: 10ms, factor: 2, steps: 5 }, onFailure: fallback }
        fallback: { jsonl: { path: ./dlq/dead.jsonl } }
  edges:
    - { from: in, to: enrich }
    - { from: enrich, to: out, conditions: { tags: { operator: or, values: [keep] } } }
`;

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { vertices: Record<string, unknown>[]; edges: Record<string, unknown>[]; [key: string]: unknown };
};

/** A small valid spec as plain data; each test breaks one thing. */
function validDoc(): Doc {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "p" },
    spec: {
      vertices: [
        { name: "in", source: { generator: { total: 10 } } },
        { name: "enrich", udf: { builtin: { name: "cat" } } },
        { name: "out", sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "enrich" },
        { from: "enrich", to: "out" },
      ],
    },
  };
}

function issueAt(doc: unknown, path: string): SpecIssue {
  const issues = issuesOf(doc);
  const issue = issues.find((candidate) => candidate.path === path);
  if (issue === undefined) throw new Error(`no issue at ${path}; got:\n${issues.map((i) => `${i.path}: ${i.message}`).join("\n")}`);
  return issue;
}

function vertex(spec: PipelineSpec, name: string): VertexSpec {
  const found = spec.spec.vertices.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no vertex ${name}`);
  return found;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-spec-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadSpec", () => {
  it("parses the demo of DESIGN §4, filling defaults and converting durations", async () => {
    const file = path.join(dir, "demo.yaml");
    await writeFile(file, DEMO_YAML);
    const { spec, baseDir, file: loadedFrom } = await loadSpec(file);

    expect(baseDir).toBe(dir);
    expect(loadedFrom).toBe(file);
    expect(spec.metadata.name).toBe("demo");
    expect(spec.spec.buffer).toEqual({ type: "memory" });
    expect(spec.spec.limits).toEqual({
      readBatchSize: 500,
      readTimeout: 100,
      bufferMaxLength: 30_000,
      bufferUsageLimit: 0.8,
      maxInflightEpochs: 2,
      onFull: "retryUntilSuccess",
      resultTimeout: 30_000,
      maxDeliveries: 3,
    });
    expect(vertex(spec, "in")).toEqual({
      kind: "source",
      name: "in",
      partitions: 1,
      commit: "aligned",
      source: { generator: { total: 100_000, rpu: 5000, duration: 1000, msgSize: 64, keyCount: 16 } },
    });
    expect(spec.spec.edges[1]).toEqual({ from: "enrich", to: "out", conditions: { tags: { operator: "or", values: ["keep"] } } });
  });

  it("resolves module and jsonl paths against the spec file's directory", async () => {
    const file = path.join(dir, "demo.yaml");
    await writeFile(file, DEMO_YAML);
    const { spec } = await loadSpec(path.relative(process.cwd(), file));

    expect(vertex(spec, "enrich")).toMatchObject({ kind: "udf", udf: { module: { path: path.join(dir, "udfs.ts"), export: "enrich" } } });
    const out = vertex(spec, "out");
    expect(out).toMatchObject({
      kind: "sink",
      sink: { jsonl: { path: path.join(dir, "out.jsonl") } },
      fallback: { jsonl: { path: path.join(dir, "dlq", "dead.jsonl") } },
    });
  });

  it("moves retryStrategy and fallback written inside sink (DESIGN §4) onto the vertex", async () => {
    const file = path.join(dir, "demo.yaml");
    await writeFile(file, DEMO_YAML);
    const { spec } = await loadSpec(file);
    const out = vertex(spec, "out");
    expect(out.kind).toBe("sink");
    if (out.kind !== "sink") return;
    expect(out.sink).toEqual({ jsonl: { path: path.join(dir, "out.jsonl"), exactlyOnce: false } });
    expect(out.retryStrategy).toEqual({
      backoff: { interval: 10, factor: 2, steps: 5, cap: 1000, jitter: 0 },
      onFailure: "fallback",
    });
  });

  it("reads a .json spec", async () => {
    const file = path.join(dir, "p.json");
    await writeFile(file, JSON.stringify(validDoc(), null, 2));
    const { spec } = await loadSpec(file);
    expect(spec.spec.vertices.map((v) => v.kind)).toEqual(["source", "udf", "sink"]);
  });

  it("reports where a schema issue is in the YAML file", async () => {
    const file = path.join(dir, "bad-partitions.yaml");
    await writeFile(file, DEMO_YAML.replace("partitions: 4\n      udf", "partitions: -2\n      udf"));
    const error = await loadSpec(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecError);
    const issue = (error as SpecError).issues[0];
    expect(issue).toMatchObject({ path: "spec.vertices[1].partitions", line: 12, column: 7 });
  });

  it("turns a YAML syntax error into a SpecError with its line and column", async () => {
    const file = path.join(dir, "broken.yaml");
    await writeFile(file, "apiVersion: weir.dev/v1\nkind: Pipeline\nmetadata:\n  name: x\n   bad: 1\n");
    const error = await loadSpec(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecError);
    const spec = error as SpecError;
    expect(spec.code).toBe("SPEC_INVALID");
    expect(spec.issues[0]).toMatchObject({ path: "(yaml)", line: 4 });
    expect(spec.issues[0]?.column).toBeTypeOf("number");
    expect(spec.message).not.toMatch(/\n\s+at /);
  });

  it("turns a JSON syntax error into a SpecError", async () => {
    const file = path.join(dir, "broken.json");
    await writeFile(file, '{"apiVersion": "weir.dev/v1",\n "kind": "Pipeline"');
    const error = await loadSpec(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).issues[0]).toMatchObject({ path: "(json)", line: 2 });
  });

  it("rejects an empty file and a missing file with their own messages", async () => {
    const empty = path.join(dir, "empty.yaml");
    await writeFile(empty, "# nothing yet\n");
    await expect(loadSpec(empty)).rejects.toMatchObject({ code: "SPEC_INVALID", issues: [{ message: "the spec is empty" }] });
    await expect(loadSpec(path.join(dir, "missing.yaml"))).rejects.toMatchObject({
      code: "SPEC_UNREADABLE",
      issues: [{ message: "no such file" }],
    });
  });
});

describe("durations", () => {
  it.each([
    ["100ms", 100],
    ["1s", 1000],
    ["1.5s", 1500],
    ["2m", 120_000],
    [250, 250],
    [0, 0],
  ])("reads %j as %d ms", (input, ms) => {
    const doc = validDoc();
    doc.spec["limits"] = { readTimeout: input };
    expect(parseSpec(doc, "/").spec.spec.limits.readTimeout).toBe(ms);
  });

  it.each(["10", "1h", "fast", "-1s", "1 s"])("rejects %j, naming the accepted forms", (input) => {
    const doc = validDoc();
    doc.spec["limits"] = { readTimeout: input };
    const issue = issueAt(doc, "spec.limits.readTimeout");
    expect(issue.message).toContain('"100ms", "1.5s" or "2m", or a number of milliseconds');
  });

  it("rejects a negative number of milliseconds", () => {
    const doc = validDoc();
    doc.spec["limits"] = { readTimeout: -5 };
    expect(issueAt(doc, "spec.limits.readTimeout").message).toBe("must be ≥ 0, got -5");
  });

  it("parseDuration reads the same forms", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("1h")).toBeUndefined();
  });
});

describe("field errors", () => {
  it("names a misspelled field and suggests the right one", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitons: 4, udf: { builtin: { name: "cat" } } };
    const issue = issueAt(doc, "spec.vertices[1].partitons");
    expect(issue.message).toBe("unknown field 'partitons'");
    expect(issue.hint).toBe("did you mean 'partitions'?");
  });

  it("lists the allowed fields when no field is close", () => {
    const doc = validDoc();
    doc.metadata = { name: "p", zzzzzz: 1 } as Doc["metadata"];
    expect(issueAt(doc, "metadata.zzzzzz").hint).toBe("allowed fields: name");
  });

  it("rejects negative partitions with the valid range", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitions: -2, udf: { builtin: { name: "cat" } } };
    const issue = issueAt(doc, "spec.vertices[1].partitions");
    expect(issue.message).toBe("must be ≥ 1, got -2");
    expect(issue.hint).toContain("from 1 to 256");
  });

  it("rejects more partitions than measured to work (#10 item 13), naming the fix; the JSON Schema says the same", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitions: 1024, udf: { builtin: { name: "cat" } } };
    const issue = issueAt(doc, "spec.vertices[1].partitions");
    expect(issue.message).toBe("must be ≤ 256, got 1024");
    expect(issue.hint).toContain("run more worker processes of the vertex (weir run --vertices), not more partitions");
    const text = JSON.stringify(pipelineJsonSchema());
    expect(text).toContain('"partitions":{"default":1');
    expect(text).toMatch(/"partitions":\{[^}]*"maximum":256/);
  });

  it("lists valid options of an enum and suggests the closest", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", commit: "align", sink: { log: {} } };
    const issue = issueAt(doc, "spec.vertices[2].commit");
    expect(issue.message).toBe('expected one of aligned, partition, got "align"');
    expect(issue.hint).toBe("did you mean 'aligned'?");
  });

  it("lists the buffer types for an unknown one", () => {
    const doc = validDoc();
    doc.spec["buffer"] = { type: "kafka" };
    expect(issueAt(doc, "spec.buffer.type").message).toBe('expected one of memory, redis, got "kafka"');
  });

  it("fills redis buffer defaults and checks its url", () => {
    const doc = validDoc();
    doc.spec["buffer"] = { type: "redis", url: "redis://127.0.0.1:6379" };
    expect(parseSpec(doc, "/").spec.spec.buffer).toEqual({
      type: "redis",
      url: "redis://127.0.0.1:6379",
      keyPrefix: "weir",
      cluster: false,
      claimIdle: 30_000,
      dedupWindow: 600_000,
    });
    doc.spec["buffer"] = { type: "redis", url: "http://x", keyPrefx: "w" };
    expect(issueAt(doc, "spec.buffer.url").message).toContain("redis://");
    expect(issueAt(doc, "spec.buffer.keyPrefx").hint).toBe("did you mean 'keyPrefix'?");
  });

  it("says a required field is required", () => {
    const doc = validDoc();
    doc.spec.vertices[0] = { source: { generator: {} } };
    expect(issueAt(doc, "spec.vertices[0].name").message).toBe("is required");
  });

  it("rejects a name that is not a DNS label", () => {
    const doc = validDoc();
    doc.metadata.name = "My_Pipeline";
    expect(issueAt(doc, "metadata.name").message).toContain("lowercase letters, digits and '-'");
  });

  it("suggests unquoting a quoted number", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitions: "4", udf: { builtin: { name: "cat" } } };
    expect(issueAt(doc, "spec.vertices[1].partitions").hint).toBe("write 4 without quotes");
  });

  it("reports every issue at once, not only the first", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitons: 4, udf: { builtin: { name: "cat" } } };
    doc.spec.edges[1] = { from: "enrich", to: "ot" };
    const paths = issuesOf(doc).map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(["spec.vertices[1].partitons", "spec.edges[1].to"]));
  });

  it("never leaks a ZodError or a stack trace in the message", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", partitions: -1, udf: {} };
    try {
      parseSpec(doc, "/");
    } catch (error) {
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).message).not.toMatch(/ZodError|\n\s+at |"code":/);
      expect((error as SpecError).message).toContain("spec.vertices[1].partitions: must be ≥ 1, got -1 — ");
      return;
    }
    throw new Error("expected a SpecError");
  });
});

describe("exactly one of", () => {
  it("a vertex needs exactly one of source, udf, sink", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich" };
    expect(issueAt(doc, "spec.vertices[1]").message).toBe("a vertex needs exactly one of source, udf, sink");
  });

  it("rejects a vertex with two roles, naming both", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } }, sink: { log: {} } };
    const issue = issueAt(doc, "spec.vertices[1]");
    expect(issue.message).toBe("a vertex needs exactly one of source, udf, sink, but has udf and sink");
    expect(issue.hint).toContain("one vertex per role");
  });

  it("a sink needs exactly one connector", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", sink: { log: {}, blackhole: {} } };
    expect(issueAt(doc, "spec.vertices[2].sink").message).toBe(
      "a sink needs exactly one of log, blackhole, jsonl, module, process, bullmq, redisStream, but has log and blackhole",
    );
  });

  it("a misspelled connector gets a suggestion rather than a second error", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", sink: { jsnl: { path: "x" } } };
    const issues = issuesOf(doc);
    expect(issues.find((issue) => issue.path === "spec.vertices[2].sink.jsnl")?.hint).toBe("did you mean 'jsonl'?");
    expect(issues.find((issue) => issue.path === "spec.vertices[2].sink")).toBeUndefined();
  });

  it("a udf is a builtin or a module", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", udf: {} };
    expect(issueAt(doc, "spec.vertices[1].udf").message).toBe("a udf needs exactly one of builtin, module, process");
  });
});

describe("cross-field rules", () => {
  it("rejects an edge to an unknown vertex, suggesting the closest name", () => {
    const doc = validDoc();
    doc.spec.edges[0] = { from: "in", to: "enrch" };
    const issue = issueAt(doc, "spec.edges[0].to");
    expect(issue.message).toBe("unknown vertex 'enrch'");
    expect(issue.hint).toBe("did you mean 'enrich'? (vertices are: in, enrich, out)");
  });

  it("rejects an edge out of a sink", () => {
    const doc = validDoc();
    doc.spec.edges.push({ from: "out", to: "enrich" });
    const issue = issueAt(doc, "spec.edges[2].from");
    expect(issue.message).toBe("'out' is a sink");
    expect(issue.hint).toBe("sinks have no outputs; remove the edge or point it from a udf vertex");
  });

  it("rejects an edge into a source", () => {
    const doc = validDoc();
    doc.spec.edges.push({ from: "enrich", to: "in" });
    const issue = issueAt(doc, "spec.edges[2].to");
    expect(issue.message).toBe("'in' is a source");
    expect(issue.hint).toContain("sources have no inputs");
  });

  it("rejects a self-loop", () => {
    const doc = validDoc();
    doc.spec.edges.push({ from: "enrich", to: "enrich" });
    expect(issueAt(doc, "spec.edges[2]").message).toBe("edge from 'enrich' to itself");
  });

  it("rejects a cycle, showing it", () => {
    const doc = validDoc();
    doc.spec.vertices.splice(2, 0, { name: "again", udf: { builtin: { name: "cat" } } });
    doc.spec.edges.push({ from: "enrich", to: "again" }, { from: "again", to: "enrich" });
    const issue = issueAt(doc, "spec.edges[3]");
    expect(issue.message).toBe("edges form a cycle: enrich → again → enrich");
    expect(issue.hint).toContain("acyclic");
  });

  it("rejects duplicate vertex names", () => {
    const doc = validDoc();
    doc.spec.vertices.push({ name: "enrich", udf: { builtin: { name: "cat" } } });
    const issue = issueAt(doc, "spec.vertices[3].name");
    expect(issue.message).toBe("duplicate vertex name 'enrich' (also spec.vertices[1])");
    expect(issue.hint).toContain("unique");
  });

  it("needs at least one source and one sink", () => {
    const noSource = validDoc();
    noSource.spec.vertices[0] = { name: "in", udf: { builtin: { name: "cat" } } };
    noSource.spec.edges.push({ from: "out", to: "in" });
    expect(issuesOf(noSource).map((issue) => issue.message)).toContain("the pipeline has no source vertex");

    const noSink = validDoc();
    noSink.spec.vertices[2] = { name: "out", udf: { builtin: { name: "cat" } } };
    const issue = issueAt(noSink, "spec.vertices");
    expect(issue.message).toBe("the pipeline has no sink vertex");
    expect(issue.hint).toContain("sink: { log: {} }");
  });

  it("needs an input edge into every udf and sink", () => {
    const doc = validDoc();
    doc.spec.edges = [{ from: "in", to: "out" }];
    const issue = issueAt(doc, "spec.vertices[1]");
    expect(issuesOf(doc).filter((i) => i.path === "spec.vertices[1]").map((i) => i.message)).toEqual([
      "udf vertex 'enrich' has no input edge",
      "udf vertex 'enrich' has no output edge",
    ]);
    expect(issue.hint).toBe("add an edge such as { from: in, to: enrich }, or remove the vertex");
  });

  it("needs an output edge out of every source", () => {
    const doc = validDoc();
    doc.spec.vertices.push({ name: "extra", source: { generator: {} } });
    expect(issueAt(doc, "spec.vertices[3]").message).toBe("source vertex 'extra' has no output edge");
  });

  it("allows fallback only on udf and sink vertices", () => {
    const doc = validDoc();
    doc.spec.vertices[0] = { name: "in", source: { generator: {} }, fallback: { log: {} } };
    const issue = issueAt(doc, "spec.vertices[0].fallback");
    expect(issue.message).toBe("a source vertex takes no fallback");
    expect(issue.hint).toContain("udf and sink");
  });

  it("requires a fallback for onFailure: fallback", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", sink: { log: {} }, retryStrategy: { onFailure: "fallback" } };
    const issue = issueAt(doc, "spec.vertices[2].retryStrategy.onFailure");
    expect(issue.message).toBe("onFailure is fallback, but the vertex has no fallback sink");
    expect(issue.hint).toContain("add fallback:");
  });

  it("allows schema only on udf and sink vertices", () => {
    const doc = validDoc();
    doc.spec.vertices[0] = { name: "in", source: { generator: {} }, schema: { jsonSchema: { path: "order.json" } } };
    const issue = issueAt(doc, "spec.vertices[0].schema");
    expect(issue.message).toBe("a source vertex takes no schema");
    expect(issue.hint).toContain("udf or sink");
  });

  it("requires a fallback for a message schema, on udf and sink vertices", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } }, schema: { module: { path: "order.ts", export: "order" } } };
    doc.spec.vertices[2] = { name: "out", sink: { log: {} }, schema: { jsonSchema: { path: "order.json" } } };
    for (const at of ["spec.vertices[1].schema", "spec.vertices[2].schema"]) {
      const issue = issueAt(doc, at);
      expect(issue.message).toBe("a message schema needs a fallback sink: the messages that fail it are written there");
      expect(issue.hint).toContain("add fallback:");
    }
    // A fallback written inside sink: counts too.
    doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } } };
    doc.spec.vertices[2] = { name: "out", sink: { log: {}, fallback: { log: {} } }, schema: { jsonSchema: { path: "order.json" } } };
    expect(() => parseSpec(doc, "/base")).not.toThrow();
  });

  it("a message schema is a module or a JSON Schema file, exactly one", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", sink: { log: {} }, fallback: { log: {} }, schema: { module: { path: "a.ts" }, jsonSchema: { path: "b.json" } } };
    expect(issueAt(doc, "spec.vertices[2].schema").message).toBe("a message schema needs exactly one of module, jsonSchema, but has module and jsonSchema");
  });

  it("rejects exactlyOnce on a fallback jsonl, wherever the fallback is written", () => {
    const doc = validDoc();
    doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } }, fallback: { jsonl: { path: "a.jsonl", exactlyOnce: true } } };
    doc.spec.vertices[2] = { name: "out", sink: { log: {}, fallback: { jsonl: { path: "b.jsonl", exactlyOnce: true } } } };
    const issue = issueAt(doc, "spec.vertices[1].fallback.jsonl.exactlyOnce");
    expect(issue.message).toBe("exactlyOnce applies to a vertex's sink, not to a fallback");
    expect(issueAt(doc, "spec.vertices[2].sink.fallback.jsonl.exactlyOnce").hint).toContain("remove exactlyOnce");
  });

  it("rejects retryStrategy set both on the vertex and inside sink", () => {
    const doc = validDoc();
    doc.spec.vertices[2] = { name: "out", sink: { log: {}, retryStrategy: {} }, retryStrategy: {} };
    expect(issueAt(doc, "spec.vertices[2].sink.retryStrategy").message).toBe(
      "retryStrategy is set both on the vertex and inside sink",
    );
  });
});

describe("retry and limits helpers", () => {
  const specWith = (changes: (doc: Doc) => void): PipelineSpec => {
    const doc = validDoc();
    changes(doc);
    return parseSpec(doc, "/base").spec;
  };

  it("completes retryStrategy on udf and sink vertices", () => {
    const out = vertex(specWith(() => {}), "out");
    expect(out).toMatchObject({ retryStrategy: { backoff: { interval: 10, factor: 2, steps: 3, cap: 1000, jitter: 0 } } });
    if (out.kind === "sink") expect(out.retryStrategy.onFailure).toBeUndefined();
  });

  it("effectiveOnFailure: explicit wins; sinks retry; udfs fall back when they can, else drop", () => {
    const plain = specWith(() => {});
    const withFallback = specWith((doc) => {
      doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } }, fallback: { jsonl: { path: "dlq.jsonl" } } };
      doc.spec.vertices[2] = { name: "out", sink: { log: {} }, retryStrategy: { onFailure: "drop" } };
    });
    const onFailure = (spec: PipelineSpec, name: string) => {
      const found = vertex(spec, name);
      if (found.kind === "source") throw new Error("not a udf or sink");
      return effectiveOnFailure(found);
    };
    expect(onFailure(plain, "out")).toBe("retry");
    expect(onFailure(plain, "enrich")).toBe("drop");
    expect(onFailure(withFallback, "enrich")).toBe("fallback");
    expect(onFailure(withFallback, "out")).toBe("drop");
    expect(vertex(withFallback, "enrich")).toMatchObject({ fallback: { jsonl: { path: path.resolve("/base", "dlq.jsonl") } } });
  });

  it("reads maxDeliveries (default 3, spec-wide or per vertex, an integer ≥ 1)", () => {
    const spec = specWith((doc) => {
      doc.spec["limits"] = { maxDeliveries: 5 };
      doc.spec.vertices[2]!["limits"] = { maxDeliveries: 1 };
    });
    expect(effectiveLimits(spec, vertex(spec, "enrich")).maxDeliveries).toBe(5);
    expect(effectiveLimits(spec, vertex(spec, "out")).maxDeliveries).toBe(1);
    expect(specWith(() => {}).spec.limits.maxDeliveries).toBe(3);
    const bad = validDoc();
    bad.spec["limits"] = { maxDeliveries: 0 };
    expect(issueAt(bad, "spec.limits.maxDeliveries").message).toBe("must be ≥ 1, got 0");
  });

  it("resolves message schema paths, keeps jsonl exactlyOnce, and reads maxMessageSize as bytes with no default", () => {
    const spec = specWith((doc) => {
      doc.spec["limits"] = { maxMessageSize: 4096 };
      doc.spec.vertices[1] = { name: "enrich", udf: { builtin: { name: "cat" } }, fallback: { log: {} }, schema: { module: { path: "schemas/order.ts" } } };
      doc.spec.vertices[2] = {
        name: "out",
        sink: { jsonl: { path: "out.jsonl", exactlyOnce: true } },
        fallback: { log: {} },
        schema: { jsonSchema: { path: "../order.json" } },
        limits: { maxMessageSize: 100 },
      };
    });
    expect(vertex(spec, "enrich")).toMatchObject({ schema: { module: { path: path.resolve("/base", "schemas/order.ts"), export: "default" } } });
    expect(vertex(spec, "out")).toMatchObject({ schema: { jsonSchema: { path: path.resolve("/order.json") } }, sink: { jsonl: { exactlyOnce: true } } });
    expect(effectiveLimits(spec, vertex(spec, "enrich")).maxMessageSize).toBe(4096);
    expect(effectiveLimits(spec, vertex(spec, "out")).maxMessageSize).toBe(100);
    expect(effectiveLimits(specWith(() => {}), vertex(spec, "out")).maxMessageSize).toBe(100);
    expect(specWith(() => {}).spec.limits.maxMessageSize).toBeUndefined();
    const bad = validDoc();
    bad.spec["limits"] = { maxMessageSize: 0 };
    expect(issueAt(bad, "spec.limits.maxMessageSize").message).toBe("must be ≥ 1, got 0");
  });

  it("effectiveLimits overrides spec.limits field by field", () => {
    const spec = specWith((doc) => {
      doc.spec["limits"] = { readBatchSize: 100 };
      doc.spec.vertices[2] = { name: "out", sink: { log: {} }, limits: { readTimeout: "1s" } };
    });
    expect(effectiveLimits(spec, vertex(spec, "out"))).toMatchObject({ readBatchSize: 100, readTimeout: 1000, maxInflightEpochs: 2 });
    expect(effectiveLimits(spec, vertex(spec, "enrich")).readTimeout).toBe(100);
  });
});

describe("pipelineJsonSchema", () => {
  it("describes the input: defaulted fields optional, roles as oneOf", () => {
    const schema = pipelineJsonSchema() as {
      properties: { spec: { properties: { vertices: { items: { required?: string[]; oneOf?: unknown[] } } }; required?: string[] } };
      required?: string[];
    };
    expect(schema.required).toEqual(["apiVersion", "kind", "metadata", "spec"]);
    expect(schema.properties.spec.required).toEqual(["vertices", "edges"]);
    const vertexSchema = schema.properties.spec.properties.vertices.items;
    expect(vertexSchema.required).toEqual(["name"]);
    expect(vertexSchema.oneOf).toEqual([{ required: ["source"] }, { required: ["udf"] }, { required: ["sink"] }]);
  });
});
