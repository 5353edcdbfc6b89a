/**
 * Reducers as external processes (issue #13, docs/protocol.md role `reduce`): a Python reducer
 * counting per window equals the reference end to end on the memory buffer; a process that
 * answers for another window, sends a bad frame, or never answers fails the window close with
 * REDUCER_FAILED naming the window and the cause.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPipeline, parseSpec, type PipelineSpecInput } from "../src/index.js";
import { createProcessReducer } from "../src/reduce/process-reducer.js";
import { silentLogger } from "../src/observability/logger.js";
import { referenceCounts, windowCountsOf, type WindowShape } from "./support/window-reference.js";
import { listSource } from "./support/list-source.js";
import { collectingSink, outOfOrderMessages } from "./support/reduce-run.js";

const reducerScript = fileURLToPath(new URL("../../../examples/python-reduce/reduce.py", import.meta.url));

function reduceDoc(window: WindowShape, command: readonly string[], partitions: number): PipelineSpecInput {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "reduce-process" },
    spec: {
      watermark: { maxDelay: 150 },
      limits: { readBatchSize: 100, readTimeout: "5ms" },
      vertices: [
        { name: "in", source: { generator: { total: 1 } } },
        { name: "counts", partitions, udf: { process: { command: [...command] }, groupBy: { window, keyed: true } } },
        { name: "out", sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "counts" },
        { from: "counts", to: "out" },
      ],
    },
  };
}

describe("a reduce vertex running an external process", { timeout: 120_000 }, () => {
  it.each<[string, WindowShape]>([
    ["fixed", { fixed: { length: 1_000 } }],
    ["session", { session: { timeout: 40 } }],
  ])("%s windows: a Python reducer's counts per (keys, window) equal the reference, each window once", async (_name, window) => {
    const messages = outOfOrderMessages(2_000, 7, 150);
    const { results, sink } = collectingSink();
    const pipeline = createPipeline(parseSpec(reduceDoc(window, ["python3", reducerScript], 2), path.dirname(reducerScript)), { sources: { in: listSource(messages) }, sinks: { out: sink } });
    const summary = await pipeline.start();
    expect(summary.status, JSON.stringify(summary)).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: 2_000, late: 0 });
    const ids = results.map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, window, true));
  });
});

describe("docs/protocol.md §13", () => {
  it("its Python reducer is the tested example's code", async () => {
    const doc = await readFile(fileURLToPath(new URL("../../../docs/protocol.md", import.meta.url)), "utf8");
    const section = doc.slice(doc.indexOf("## 13. Reducers"));
    const block = /```python\n([\s\S]*?)```/.exec(section)![1]!;
    expect(await readFile(reducerScript, "utf8")).toContain(block);
  });
});

describe("a misbehaving reduce process", { timeout: 60_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-reduce-process-"));
    // MODE: wrong-window answers for the next epoch; bad-frame sends a value that is not base64; silent never answers.
    await writeFile(
      path.join(dir, "bad_reduce.py"),
      [
        "import json, os, sys",
        "mode = os.environ['MODE']",
        "def send(frame):",
        "    sys.stdout.write(json.dumps(frame) + '\\n'); sys.stdout.flush()",
        "lines = (json.loads(line) for line in sys.stdin if line.strip())",
        "next(lines)",
        "send({'type': 'ready', 'protocol': 1})",
        "for frame in lines:",
        "    if frame['type'] != 'eot' or mode == 'silent':",
        "        continue",
        "    where = {'partition': frame['partition'], 'epoch': frame['epoch'] + (1 if mode == 'wrong-window' else 0), 'attempt': frame['attempt']}",
        "    send({'type': 'results', **where, 'results': [{'value': 'not base64!' if mode == 'bad-frame' else 'eA=='}]})",
        "    send({'type': 'endOfResults', **where})",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it.each([
    ["wrong-window", "results frame for partition 0 epoch 2 attempt 1"],
    ["bad-frame", "malformed frame"],
    ["silent", "no endOfResults frame within 1000ms"],
  ])("%s: the window close fails with the window and the cause", async (mode, cause) => {
    const reducer = createProcessReducer("counts", { command: ["python3", path.join(dir, "bad_reduce.py")], env: { MODE: mode }, partitions: 1, resultTimeout: mode === "silent" ? 1_000 : 30_000 }, silentLogger);
    try {
      const message = outOfOrderMessages(1, 1, 0)[0]!;
      const failure = await Promise.resolve(reducer.reduce(["k0"], [message], { start: 0, end: 1_000 }, { vertex: "counts", partition: 0 })).catch((error: unknown) => error);
      expect(String(failure)).toContain("the reduce process failed partition 0 epoch 1 attempt 1 (window [0, 1000) of keys [\"k0\"])");
      expect(String(failure)).toContain(cause);
    } finally {
      await reducer.close();
    }
  });

  it("in a pipeline, the failed window close fails the run, naming the window and the cause", async () => {
    const doc = reduceDoc({ fixed: { length: 1_000 } }, ["python3", "bad_reduce.py"], 1);
    (doc.spec.vertices[1] as { udf: { process: { env?: Record<string, string> } } }).udf.process.env = { MODE: "wrong-window" };
    const pipeline = createPipeline(parseSpec(doc, dir), { sources: { in: listSource(outOfOrderMessages(50, 2, 0)) }, sinks: { out: async (batch) => batch.map((message) => ({ id: message.id, status: "ok" })) } });
    const summary = await pipeline.start();
    expect(summary.status).toBe("failed");
    expect(summary.reason).toContain(`process reducer ["python3","bad_reduce.py"] of vertex 'counts' on window`);
    expect(summary.reason).toContain("it answered with a results frame for partition 0 epoch 2 attempt 1");
  });
});
