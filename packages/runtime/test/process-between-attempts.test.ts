/**
 * What happens between two attempts of an external process must cost no attempt anything, and
 * each misbehaviour counts once (#10 item 11). The child scripts make each race deterministic:
 * the misbehaviour reaches Weir while the *next* attempt is in progress.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJsonLogger, createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";

type LogLine = Record<string, unknown> & { msg: string; level: string };
type Vertices = PipelineSpecInput["spec"]["vertices"];

/**
 * A sink (role sink) or map (role map) that answers every message (ok / passed on unchanged)
 * and misbehaves as MODE says:
 *   exit_after    exits (code 0) right after each endOfResults
 *   exit_on_next  answers one attempt, then exits when the next attempt's data arrives
 *   stray         writes a line that is no frame before answering every attempt but its first
 *   late_eor      attempt 1: all results, a duplicate result, and its endOfResults only once the
 *                 next attempt's data arrives
 *   duplicate     attempt 1: all results, a duplicate result, then endOfResults
 */
const CHILD = String.raw`
import json, os, sys
MODE = os.environ["MODE"]
def send(frame):
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()
lines = (json.loads(line) for line in sys.stdin if line.strip())
role = next(lines)["role"]
send({"type": "ready", "protocol": 1})
print("child says hello on stderr", file=sys.stderr, flush=True)
answered, batch, held = 0, [], None
def answer(message):
    if role == "sink":
        return {"id": message["id"], "status": "ok"}
    return {"id": message["id"], "results": [{"value": message["value"]}]}
for frame in lines:
    if frame["type"] == "data":
        if MODE == "exit_on_next" and answered > 0:
            os._exit(0)
        if held is not None:
            send(held)
            held = None
        batch.extend(frame["messages"])
        continue
    if frame["type"] != "eot":
        continue
    where = {key: frame[key] for key in ("partition", "epoch", "attempt")}
    if MODE == "stray" and answered > 0:
        sys.stdout.write("done with the previous batch\n")
        sys.stdout.flush()
    results = [answer(message) for message in batch]
    batch = []
    send({"type": "results", **where, "results": results})
    if MODE in ("late_eor", "duplicate") and where["attempt"] == 1 and results:
        send({"type": "results", **where, "results": results[:1]})
    if MODE == "late_eor" and where["attempt"] == 1:
        held = {"type": "endOfResults", **where}
    else:
        send({"type": "endOfResults", **where})
    answered += 1
    if MODE == "exit_after":
        os._exit(0)
`;

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-between-"));
  script = path.join(dir, "child.py");
  await writeFile(script, CHILD);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const total = 600;
const generator = { generator: { total, rpu: 10_000_000, duration: "1s", msgSize: 16 } };
const oneAttempt = { backoff: { interval: "1ms", steps: 1 }, onFailure: "fallback" } as const;

async function run(vertices: Vertices, edges: PipelineSpecInput["spec"]["edges"], level: "debug" | "warn" = "debug") {
  const lines: LogLine[] = [];
  const logger = createJsonLogger({ level, write: (line) => void lines.push(JSON.parse(line) as LogLine) });
  const spec = parseSpec(
    {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "between" },
      spec: { limits: { readBatchSize: 100, readTimeout: "20ms", resultTimeout: "60s" }, vertices, edges },
    },
    dir,
  );
  const summary = await createPipeline(spec, { logger }).start();
  const errors = lines.filter((line) => line.msg === "protocol error");
  return { summary, errors, codes: errors.map((line) => String(line["code"])), lines };
}

const sinkPipeline = (mode: string) =>
  run(
    [
      { name: "in", source: generator },
      {
        name: "out",
        partitions: 2,
        sink: { process: { command: ["python3", script], env: { MODE: mode } }, retryStrategy: oneAttempt, fallback: { blackhole: {} } },
      },
    ],
    [{ from: "in", to: "out" }],
  );

// Each run starts several python processes; on a loaded 2-core machine that takes a while.
describe("external processes between attempts (#10 item 11)", { timeout: 240_000 }, () => {
  for (const mode of ["exit_after", "exit_on_next"]) {
    it(`(a) ${mode}: a sink that exits after answering costs the next attempt nothing (steps: 1, no fallback)`, async () => {
      const { summary, codes } = await sinkPipeline(mode);
      expect(summary.status).toBe("completed");
      expect(summary.vertices["out"]).toMatchObject({ ok: total, fallback: 0, dropped: 0, acked: total });
      expect(codes).not.toContain("SINK_CRASHED");
      // Each exit is one misbehaviour, counted once: the summary counts exactly what was logged.
      expect(codes.every((code) => code === "PROCESS_EXITED")).toBe(true);
      expect(summary.vertices["out"]!.protocolErrors).toBe(codes.length);
      if (mode === "exit_on_next") expect(codes.length).toBeGreaterThan(0);
    });
  }

  it("(a) a process that dies twice on one attempt is charged with it: a killing message cannot loop", async () => {
    const killer = path.join(dir, "killer.py");
    const marker = path.join(dir, "answered-once");
    // The first process answers one attempt; from then on every process dies on any data.
    const dies = `os.path.exists(${JSON.stringify(marker)})`;
    await writeFile(
      killer,
      CHILD.replace('MODE == "exit_on_next" and answered > 0', dies).replace("    answered += 1\n", `    answered += 1\n    open(${JSON.stringify(marker)}, "w").close()\n`),
    );
    const { summary, codes } = await run(
      [
        { name: "in", source: { generator: { total: 300, rpu: 10_000_000, duration: "1s", msgSize: 16 } } },
        { name: "out", sink: { process: { command: ["python3", killer], env: { MODE: "none" } }, retryStrategy: oneAttempt, fallback: { blackhole: {} } } },
      ],
      [{ from: "in", to: "out" }],
    );
    expect(summary.status).toBe("completed");
    const out = summary.vertices["out"]!;
    expect(out.ok + out.fallback).toBe(300);
    expect(out.ok).toBeGreaterThan(0);
    expect(out.fallback).toBeGreaterThan(0);
    expect(codes).toContain("SINK_CRASHED");
    expect(codes).toContain("PROCESS_EXITED"); // the first death was given the benefit of the doubt
  });

  it("(b) a stray stdout line between attempts is counted once and never ends the next attempt", async () => {
    const { summary, codes, errors } = await sinkPipeline("stray");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: total, fallback: 0, dropped: 0 });
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set(["MALFORMED_FRAME"]));
    expect(summary.vertices["out"]!.protocolErrors).toBe(codes.length);
    expect(String(errors[0]!["error"])).toContain("not JSON: done with the previous batch");
  });

  it("(c) the endOfResults of an attempt ended by a protocol error is not a second error, and messages name frames", async () => {
    const { summary, codes, errors } = await sinkPipeline("late_eor");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: total, fallback: 0, dropped: 0 });
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set(["DUPLICATE_RESULT"]));
    expect(summary.vertices["out"]!.protocolErrors).toBe(codes.length);
    for (const line of errors) expect(String(line["error"])).not.toMatch(/sinkIo\./);
  });

  it("(d) a map process's protocol errors are counted in the run summary", async () => {
    const { summary, codes, lines } = await run(
      [
        { name: "in", source: generator },
        { name: "double", partitions: 2, udf: { process: { command: ["python3", script], env: { MODE: "duplicate" } } } },
        { name: "out", sink: { blackhole: {} } },
      ],
      [
        { from: "in", to: "double" },
        { from: "double", to: "out" },
      ],
    );
    expect(summary.status).toBe("completed");
    const mapErrors = lines.filter((line) => line.msg === "protocol error" && line["vertex"] === "double");
    expect(codes).toContain("DUPLICATE_RESULT");
    expect(mapErrors.length).toBeGreaterThan(0);
    expect(summary.vertices["double"]!.protocolErrors).toBe(mapErrors.length);
    expect(summary.vertices["out"]!.ok).toBe(total);
  });

  it("(#11) a process's own stderr is logged at warn, the CLI's default level, with its vertex and partition", async () => {
    const { summary, lines } = await run(
      [
        { name: "in", source: { generator: { total: 20, rpu: 10_000_000, duration: "1s", msgSize: 16 } } },
        { name: "out", partitions: 2, sink: { process: { command: ["python3", script], env: { MODE: "none" } } } },
      ],
      [{ from: "in", to: "out" }],
      "warn",
    );
    expect(summary.status).toBe("completed");
    const stderr = lines.filter((line) => line.msg === "process stderr");
    expect(stderr.length).toBeGreaterThan(0);
    expect(stderr[0]).toMatchObject({ level: "warn", vertex: "out", line: "child says hello on stderr" });
    expect(typeof stderr[0]!["partition"]).toBe("number");
  });
});
