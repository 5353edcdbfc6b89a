import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJsonLogger, createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { LineSplitter } from "../src/connectors/process/line-splitter.js";
import { encodeAttempt, parseProcessLine } from "../src/connectors/process/process-frames.js";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
const sinkDir = path.join(examples, "python-sink");
const mapDir = path.join(examples, "python-map");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-process-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Vertices = PipelineSpecInput["spec"]["vertices"];
type Edges = PipelineSpecInput["spec"]["edges"];
type LogLine = Record<string, unknown> & { msg: string; level: string };

function spec(vertices: Vertices, edges: Edges, limits: PipelineSpecInput["spec"]["limits"] = {}) {
  return parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "proc" }, spec: { limits, vertices, edges } }, dir);
}

const generator = (total: number) => ({ generator: { total, rpu: 10_000_000, duration: "1s", msgSize: 16 } });

function capture() {
  const lines: LogLine[] = [];
  const logger = createJsonLogger({ level: "debug", write: (line) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines, named: (msg: string) => lines.filter((line) => line.msg === msg) };
}

/** Every id a sink wrote to its `SINK_OUTPUT` files (`<prefix>-<partition>.jsonl`), with how often. */
async function receivedIds(prefix: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const file of (await readdir(dir)).filter((name) => name.startsWith(`${prefix}-`))) {
    for (const line of (await readFile(path.join(dir, file), "utf8")).split("\n")) {
      if (line === "") continue;
      const id = (JSON.parse(line) as { id: string }).id;
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  }
  return ids;
}

const generatedIds = (total: number) => Array.from({ length: total }, (_, seq) => `in-0-${seq}`);

describe("NDJSON framing", () => {
  it("splits lines across chunks, keeps split UTF-8 sequences whole, and drops an oversize line", () => {
    const lines: string[] = [];
    const oversize: number[] = [];
    const splitter = new LineSplitter({ maxLineBytes: 16, onLine: (line) => lines.push(line), onOversize: (bytes) => oversize.push(bytes) });
    const text = Buffer.from('{"a":"é"}\r\n{"b":1}\nxxxxxxxxxxxxxxxxxxxxxxxx\n{"c":2}');
    for (let i = 0; i < text.length; i += 3) splitter.push(text.subarray(i, i + 3));
    splitter.end();
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}', '{"c":2}']);
    expect(oversize).toEqual([24]);
  });

  it("validates every frame a process sends, by role", () => {
    expect(parseProcessLine('{"type":"ready","protocol":1}', "sink")).toEqual({ frame: { type: "ready", protocol: 1 } });
    expect(parseProcessLine("hello there", "sink")).toMatchObject({ malformed: expect.stringMatching(/^not JSON/) });
    const noAttempt = parseProcessLine('{"type":"endOfResults","partition":0,"epoch":1}', "sink");
    expect(noAttempt).toMatchObject({ malformed: expect.stringContaining("attempt") });
    const badStatus = '{"type":"results","partition":0,"epoch":1,"attempt":1,"results":[{"id":"a","status":"done"}]}';
    expect(parseProcessLine(badStatus, "sink")).toMatchObject({ malformed: expect.stringContaining("results.0.status") });
    const mapAnswer = '{"type":"results","partition":0,"epoch":1,"attempt":1,"results":[{"id":"a","results":[{"value":"aGk="}]}]}';
    expect(parseProcessLine(mapAnswer, "map")).toHaveProperty("frame");
    expect(parseProcessLine(mapAnswer, "sink")).toHaveProperty("malformed");
  });

  it("splits an attempt into data frames of bounded size and ends it with the eot count", () => {
    const messages = Array.from({ length: 10 }, (_, i) => ({ id: `m${i}`, keys: [], value: new Uint8Array(100).fill(65), eventTime: i, headers: {} }));
    const frames = encodeAttempt({ partition: 2, epoch: 7, attempt: 3 }, messages, 500)
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; messages?: Array<{ id: string; value: string }>; count?: number });
    expect(frames.length).toBeGreaterThan(2);
    expect(frames.at(-1)).toEqual({ type: "eot", partition: 2, epoch: 7, attempt: 3, count: 10 });
    const sent = frames.slice(0, -1).flatMap((frame) => frame.messages!);
    expect(sent.map((message) => message.id)).toEqual(messages.map((message) => message.id));
    expect(Buffer.from(sent[0]!.value, "base64").toString()).toBe("A".repeat(100));
  });
});

describe("the process spec", () => {
  it("resolves cwd against the spec's directory (the default) and leaves the command as written", () => {
    const loaded = spec(
      [
        { name: "in", source: generator(1) },
        { name: "map", udf: { process: { command: ["python3", "map.py"], cwd: "udfs" } } },
        { name: "out", sink: { process: { command: ["./sink", "--fast"], env: { A: "1" }, startTimeout: "5s" } } },
      ],
      [
        { from: "in", to: "map" },
        { from: "map", to: "out" },
      ],
    );
    const [, map, out] = loaded.spec.spec.vertices;
    expect(map).toMatchObject({ udf: { process: { command: ["python3", "map.py"], cwd: path.join(dir, "udfs") } } });
    expect(out).toMatchObject({ sink: { process: { command: ["./sink", "--fast"], cwd: dir, env: { A: "1" }, startTimeout: 5_000 } } });
    expect(() => spec([{ name: "out", sink: { process: { command: [] } } }], [])).toThrow(/sink\.process\.command: needs at least 1 entry/);
  });
});

describe("an external process sink (Python)", () => {
  it("numaflow#2516's shape: 4 partitions, 20,000 messages answered in random order, every id delivered once", async () => {
    const { logger, named } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(20_000) },
          {
            name: "out",
            partitions: 4,
            sink: {
              process: {
                command: ["python3", "sink.py"],
                cwd: sinkDir,
                env: { SINK_OUTPUT: path.join(dir, "seed-{partition}.jsonl"), SINK_SHUFFLE: "1", SINK_RESULTS_PER_FRAME: "37", SINK_MAX_LATENCY_MS: "5" },
              },
            },
          },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 250, readTimeout: "20ms", maxInflightEpochs: 3 },
      ),
      { logger },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ read: 20_000, acked: 20_000, ok: 20_000, fallback: 0, dropped: 0, protocolErrors: 0 });
    const ids = await receivedIds("seed");
    expect(ids.size).toBe(20_000);
    for (const id of generatedIds(20_000)) expect(ids.get(id)).toBe(1);
    // One process per partition, started once and stopped by close() at the end of the run.
    expect(named("process started").map((line) => line["partition"]).sort()).toEqual([0, 1, 2, 3]);
    expect(named("process stopped")).toHaveLength(4);
    expect(named("process stderr").some((line) => String(line["line"]).includes("stdin closed after"))).toBe(true);
  });

  const misbehaviours = [
    { mode: "early_eor", code: "EARLY_END_OF_RESULTS" },
    { mode: "unknown_id", code: "UNKNOWN_ID" },
    { mode: "crash", code: "SINK_CRASHED" },
    { mode: "silent", code: "RESULT_TIMEOUT" },
    // A line that names no attempt may be a stray print: counted, never charged to the attempt,
    // which then waits for its own answer (here: resultTimeout).
    { mode: "garbage", code: "MALFORMED_FRAME" },
  ] as const;

  for (const { mode, code } of misbehaviours) {
    it(`${mode}: reported as ${code}, redriven, and every message accounted for`, async () => {
      const total = 2_000;
      const { logger, named } = capture();
      const pipeline = createPipeline(
        spec(
          [
            { name: "in", source: generator(total) },
            {
              name: "out",
              partitions: 4,
              sink: {
                process: {
                  command: ["python3", "misbehaving_sink.py"],
                  cwd: sinkDir,
                  env: { SINK_OUTPUT: path.join(dir, `${mode}-{partition}.jsonl`), SINK_SHUFFLE: "1", MISBEHAVE: mode, MISBEHAVE_EVERY: "2" },
                },
                retryStrategy: { backoff: { interval: "1ms", steps: 5 }, onFailure: "retry" },
              },
            },
          ],
          [{ from: "in", to: "out" }],
          { readBatchSize: 100, readTimeout: "20ms", resultTimeout: "500ms" },
        ),
        { logger },
      );
      const summary = await pipeline.start();
      expect(summary.status).toBe("completed");
      const out = summary.vertices["out"]!;
      expect(out.protocolErrors).toBeGreaterThan(0);
      expect(out.ok + out.fallback + out.dropped).toBe(total);
      expect(out.acked).toBe(total);
      const errors = named("protocol error");
      expect(errors.map((line) => line["code"])).toContain(code);
      const ids = await receivedIds(mode);
      for (const id of generatedIds(total)) expect(ids.has(id)).toBe(true);
      if (mode === "crash") {
        // The exit is reported with its code and the stderr tail, and the process restarted.
        const crashed = errors.find((line) => line["code"] === "SINK_CRASHED")!;
        expect(String(crashed["error"])).toMatch(/exited with code 3.*simulated crash/);
        expect(named("process exited; it is restarted on the next attempt").length).toBeGreaterThan(0);
        expect(named("process started").length).toBeGreaterThan(4);
      }
      if (mode === "garbage") {
        expect(errors.find((line) => line["code"] === "MALFORMED_FRAME")?.["error"]).toMatch(/not JSON: this is not a frame/);
        expect(errors.map((line) => line["code"])).toContain("RESULT_TIMEOUT");
        expect(named("process started")).toHaveLength(4); // a malformed frame does not cost the process
      }
    });
  }

  it("a command that cannot start fails its attempts with the reason; onFailure drop ends the run", async () => {
    const { logger, named } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(50) },
          {
            name: "out",
            sink: { process: { command: ["weir-no-such-program"] }, retryStrategy: { backoff: { interval: "1ms", steps: 2 }, onFailure: "drop" } },
          },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 100, readTimeout: "20ms" },
      ),
      { logger },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ dropped: 50, protocolErrors: 2 });
    expect(String(named("protocol error")[0]?.["error"])).toMatch(/could not start "weir-no-such-program".*ENOENT/);
  });

  it("frames are passed on as they are: the session catches a wrong partition (WRONG_PARTITION), then redrives", async () => {
    const script = path.join(dir, "wrong_partition.py");
    await writeFile(
      script,
      [
        "import sys",
        "sys.dont_write_bytecode = True",
        `sys.path.insert(0, ${JSON.stringify(sinkDir)})`,
        "from sink import Sink, main",
        "class Wrong(Sink):",
        "    def answer(self, partition, epoch, attempt, messages):",
        "        super().answer(partition + 1 if attempt == 1 else partition, epoch, attempt, messages)",
        "sys.exit(main(Wrong))",
      ].join("\n"),
    );
    const { logger, named } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(400) },
          { name: "out", partitions: 2, sink: { process: { command: ["python3", script] }, retryStrategy: { backoff: { interval: "1ms" } } } },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 100, readTimeout: "20ms", resultTimeout: "300ms" },
      ),
      { logger },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]!.ok).toBe(400);
    // The foreign frames are refused, never merged; the attempt's own answer never comes, so it times out.
    const codes = named("protocol error").map((line) => line["code"]);
    expect(codes).toContain("WRONG_PARTITION");
    expect(codes).toContain("RESULT_TIMEOUT");
  });
});

describe("an external process map (Python)", () => {
  it("maps, filters, re-keys and tags messages; the tags drive conditional forwarding", async () => {
    const out = path.join(dir, "map-out.jsonl");
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(1_000) },
          { name: "double", partitions: 2, udf: { process: { command: ["python3", "map.py"], cwd: mapDir } } },
          { name: "out", partitions: 2, sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "double" },
          { from: "double", to: "out", conditions: { tags: { values: ["even"] } } },
        ],
        { readBatchSize: 100, readTimeout: "20ms" },
      ),
      { logger: capture().logger },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    // 100 filtered out (seq % 10 == 0), 500 odd ones dropped by the condition, 400 forwarded.
    expect(summary.vertices["double"]).toMatchObject({ ok: 1_000, written: 400, dropped: 500 });
    const lines = (await readFile(out, "utf8")).trimEnd().split("\n").map((line) => JSON.parse(line) as { keys: string[]; value: string });
    expect(lines).toHaveLength(400);
    for (const line of lines) {
      const value = JSON.parse(line.value) as { seq: number; doubled: number };
      expect(value.seq % 2).toBe(0);
      expect(value.doubled).toBe(value.seq * 2);
      expect(line.keys).toEqual([`k${value.seq % 3}`]);
    }
  });

  it("a map process that crashes mid-epoch is restarted; the failed messages are retried and none is lost", async () => {
    const script = path.join(dir, "crashing_map.py");
    await writeFile(
      script,
      [
        "import json, os, sys",
        "send = lambda frame: (sys.stdout.write(json.dumps(frame) + '\\n'), sys.stdout.flush())",
        "lines = (json.loads(line) for line in sys.stdin if line.strip())",
        "next(lines)",
        "send({'type': 'ready', 'protocol': 1})",
        "pending = []",
        "for frame in lines:",
        "    if frame['type'] == 'data': pending.extend(frame['messages']); continue",
        "    where = {k: frame[k] for k in ('partition', 'epoch', 'attempt')}",
        "    results = [{'id': m['id'], 'results': [{'value': m['value']}]} for m in pending]",
        "    pending = []",
        "    if frame['epoch'] == 1 and frame['attempt'] == 1:",
        "        send({'type': 'results', **where, 'results': results[: len(results) // 2]})",
        "        print('crashing on purpose', file=sys.stderr, flush=True)",
        "        os._exit(1)",
        "    send({'type': 'results', **where, 'results': results})",
        "    send({'type': 'endOfResults', **where})",
      ].join("\n"),
    );
    const out = path.join(dir, "crash-map-out.jsonl");
    const { logger, named } = capture();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: generator(600) },
          {
            name: "map",
            partitions: 2,
            udf: { process: { command: ["python3", script] } },
            retryStrategy: { backoff: { interval: "1ms", steps: 5 }, onFailure: "retry" },
          },
          { name: "out", sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
        { readBatchSize: 100, readTimeout: "20ms" },
      ),
      { logger },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["map"]).toMatchObject({ ok: 600, dropped: 0, fallback: 0 });
    const ids = (await readFile(out, "utf8")).trimEnd().split("\n").map((line) => (JSON.parse(line) as { id: string }).id);
    expect(new Set(ids).size).toBe(600);
    expect(named("process exited; it is restarted on the next attempt").length).toBeGreaterThan(0);
    expect(named("process started").length).toBeGreaterThan(2);
  });
});

describe("retryLater frames from external processes (docs/protocol.md)", () => {
  /** Ids whose sequence number is even are answered retryLater the first time a process sees them. */
  const laterPython = (role: "sink" | "map", out: string) =>
    [
      "import json, sys",
      "sys.dont_write_bytecode = True",
      ...(role === "sink"
        ? [
            `sys.path.insert(0, ${JSON.stringify(sinkDir)})`,
            "from sink import Sink, main",
            "class Later(Sink):",
            "    seen = set()",
            "    def write(self, epoch, attempt, messages):",
            "        pass",
            "    def results(self, attempt, messages):",
            "        out = []",
            `        with open(${JSON.stringify(out)}, "a") as f:`,
            "            for m in messages:",
            "                if int(m['id'].split('-')[-1]) % 2 == 0 and m['id'] not in self.seen:",
            "                    self.seen.add(m['id'])",
            "                    out.append({'id': m['id'], 'status': 'retryLater', 'delayMs': 50})",
            "                else:",
            "                    f.write(m['id'] + '\\n')",
            "                    out.append({'id': m['id'], 'status': 'ok'})",
            "        return out",
            "sys.exit(main(Later))",
          ]
        : [
            "def send(frame):",
            "    sys.stdout.write(json.dumps(frame) + '\\n'); sys.stdout.flush()",
            "lines = (json.loads(l) for l in sys.stdin if l.strip())",
            "next(lines)",
            "send({'type': 'ready', 'protocol': 1})",
            "seen, pending = set(), {}",
            "for frame in lines:",
            "    key = (frame['epoch'], frame['attempt'])",
            "    if frame['type'] == 'data':",
            "        pending.setdefault(key, []).extend(frame['messages'])",
            "    elif frame['type'] == 'eot':",
            "        where = {'partition': frame['partition'], 'epoch': frame['epoch'], 'attempt': frame['attempt']}",
            "        results = []",
            "        for m in pending.pop(key, []):",
            "            if int(m['id'].split('-')[-1]) % 2 == 0 and m['id'] not in seen:",
            "                seen.add(m['id'])",
            "                results.append({'id': m['id'], 'status': 'retryLater', 'delayMs': 50})",
            "            else:",
            "                results.append({'id': m['id'], 'results': [{'value': m['value']}]})",
            "        send({'type': 'results', **where, 'results': results})",
            "        send({'type': 'endOfResults', **where})",
          ]),
    ].join("\n");

  it("a process sink's retryLater (results split over several frames): every message is written once", async () => {
    const out = path.join(dir, "later-sink-ids.txt");
    const script = path.join(dir, "later_sink.py");
    await writeFile(script, laterPython("sink", out));
    const summary = await createPipeline(
      spec(
        [
          { name: "in", source: generator(400) },
          { name: "out", partitions: 2, sink: { process: { command: ["python3", script], env: { SINK_RESULTS_PER_FRAME: "7" } } } },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 50, readTimeout: "20ms" },
      ),
      { logger: capture().logger },
    ).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 400, retriedLater: 200, fallback: 0, dropped: 0, protocolErrors: 0 });
    const ids = (await readFile(out, "utf8")).trim().split("\n");
    expect(ids).toHaveLength(400);
    expect(new Set(ids).size).toBe(400);
  });

  it("a process map's retryLater: the message is mapped again after its delay and reaches the sink once", async () => {
    const script = path.join(dir, "later_map.py");
    await writeFile(script, laterPython("map", ""));
    const out = path.join(dir, "later-map-out.jsonl");
    const summary = await createPipeline(
      spec(
        [
          { name: "in", source: generator(300) },
          { name: "map", partitions: 2, udf: { process: { command: ["python3", script] } } },
          { name: "out", sink: { jsonl: { path: out } } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
        { readBatchSize: 50, readTimeout: "20ms" },
      ),
      { logger: capture().logger },
    ).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["map"]).toMatchObject({ ok: 300, retriedLater: 150 });
    const ids = (await readFile(out, "utf8")).trim().split("\n").map((line) => (JSON.parse(line) as { id: string }).id);
    expect(new Set(ids).size).toBe(300);
    expect(ids).toHaveLength(300);
  });
});
