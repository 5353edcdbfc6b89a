import { appendFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkContext } from "@weir/actors";
import { createJsonLogger, createPipeline, parseSpec, sinkConnectorFromFunction } from "@weir/runtime";
import { commitRecordPath, createExactlyOnceJsonlSink } from "../src/connectors/exactly-once-jsonl-sink.js";
import { JsonlSinkError } from "../src/connectors/jsonl-sink-error.js";

const encoder = new TextEncoder();
let dir: string;
let fileNumber = 0;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-jsonl-eo-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const newFile = () => path.join(dir, `out-${++fileNumber}.jsonl`);
const message = (id: string): Message => ({ id, keys: [], value: encoder.encode(`{"n":"${id}"}`), eventTime: 0, headers: {} });
const messages = (...ids: string[]) => ids.map(message);
const context = (epoch: number, partition = 0): SinkContext => ({ vertex: "out", partition, epoch, attempt: 1, signal: new AbortController().signal });

async function idsIn(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);
}

describe("the exactly-once jsonl sink", () => {
  it("writes nothing before the commit, then the epoch's lines in one append", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    expect(await sink.write!(messages("a", "b"), context(1, 0))).toEqual([
      { id: "a", status: "ok" },
      { id: "b", status: "ok" },
    ]);
    await sink.write!(messages("c"), context(1, 1));
    await sink.write!(messages("d"), context(2, 0));
    expect(await idsIn(file)).toEqual([]);
    await sink.commit!(1);
    expect(await idsIn(file)).toEqual(["a", "b", "c"]);
    await sink.commit!(2);
    expect(await idsIn(file)).toEqual(["a", "b", "c", "d"]);
    expect(JSON.parse(await readFile(commitRecordPath(file), "utf8"))).toEqual({ version: 1, length: (await stat(file)).size, lines: 4 });
    await sink.close();
  });

  it("never writes an id twice: not within an epoch, not across epochs, not after a reopen", async () => {
    const file = newFile();
    const first = await createExactlyOnceJsonlSink(file);
    await first.write!(messages("a", "b"), context(1));
    await first.write!(messages("b"), context(1)); // a redriven attempt
    await first.commit!(1);
    await first.write!(messages("b", "c"), context(2)); // redelivered b with a new one
    await first.commit!(2);
    await first.close();
    // A restart: the same ids come again (committed, never acked), with one new.
    const second = await createExactlyOnceJsonlSink(file);
    await second.write!(messages("a", "c", "d"), context(1));
    await second.commit!(1);
    await second.close();
    expect(await idsIn(file)).toEqual(["a", "b", "c", "d"]);
  });

  it("a commit with nothing new, or of an epoch that wrote nothing, changes nothing", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!(messages("a"), context(1));
    await sink.commit!(1);
    await sink.write!(messages("a"), context(2));
    await sink.commit!(2);
    await sink.commit!(3);
    await sink.close();
    expect(await idsIn(file)).toEqual(["a"]);
  });

  it("on open, cuts off what a crash left after the last commit: a partial epoch and a partial line", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!(messages("a", "b"), context(1));
    await sink.commit!(1);
    await sink.close();
    // A crash mid-append: whole lines of the next epoch and half of another, no commit record for them.
    await appendFile(file, '{"id":"c","keys":[],"value":"x","eventTime":0,"partition":0}\n{"id":"d","ke');
    const reopened = await createExactlyOnceJsonlSink(file);
    expect(await idsIn(file)).toEqual(["a", "b"]);
    // c was never committed: its redelivery is written.
    await reopened.write!(messages("c", "d"), context(1));
    await reopened.commit!(1);
    await reopened.close();
    expect(await idsIn(file)).toEqual(["a", "b", "c", "d"]);
  });

  it("adopts an existing file without a commit record, dropping only a trailing partial line", async () => {
    const file = newFile();
    await writeFile(file, '{"id":"x","value":"1"}\n{"id":"y","value":"2"}\n{"id":"z","va');
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!(messages("x", "y", "z"), context(1));
    await sink.commit!(1);
    await sink.close();
    expect(await idsIn(file)).toEqual(["x", "y", "z"]);
  });

  it("refuses a file shorter than its commit record, or with a line that is not a jsonl sink's", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!(messages("a", "b"), context(1));
    await sink.commit!(1);
    await sink.close();
    await truncate(file, 10);
    await expect(createExactlyOnceJsonlSink(file)).rejects.toThrow(/shorter than its last commit .*remove .*weir-commit to accept the file/);

    const foreign = newFile();
    await writeFile(foreign, '{"id":"a"}\nhello\n');
    const error = await createExactlyOnceJsonlSink(foreign).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JsonlSinkError);
    expect((error as JsonlSinkError).code).toBe("JSONL_RECOVERY_FAILED");
    expect((error as Error).message).toMatch(/line 2 of .* is not a JSON object with a string id/);
  });

  it("fails the commit, and writes nothing, when another process appended to the file", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!(messages("a"), context(1));
    await sink.commit!(1);
    await appendFile(file, '{"id":"intruder"}\n');
    await sink.write!(messages("b"), context(2));
    const error = await sink.commit!(2).catch((caught: unknown) => caught);
    expect((error as JsonlSinkError).code).toBe("JSONL_CONCURRENT_WRITER");
    await sink.close();
    expect(await idsIn(file)).toEqual(["a", "intruder"]);
  });

  it("in a pipeline: 4 partitions, every id exactly once", async () => {
    const out = newFile();
    const { spec } = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "eo" },
        spec: {
          limits: { readBatchSize: 100, readTimeout: "5ms" },
          vertices: [
            { name: "in", source: { generator: { total: 3_000, rpu: 10_000_000, keyCount: 7 } } },
            { name: "out", partitions: 4, sink: { jsonl: { path: out, exactlyOnce: true } } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    const summary = await createPipeline(spec).start();
    expect(summary.status).toBe("completed");
    const ids = await idsIn(out);
    expect(ids).toHaveLength(3_000);
    expect(new Set(ids).size).toBe(3_000);
  });

  it("a sink commit that fails is logged and retried; the run completes once it succeeds", async () => {
    const logs: Array<{ msg: string; failures?: number; error?: string }> = [];
    const logger = createJsonLogger({ level: "error", write: (line) => void logs.push(JSON.parse(line) as { msg: string }) });
    let calls = 0;
    const sink = sinkConnectorFromFunction(async (batch) => batch.map((entry) => ({ id: entry.id, status: "ok" as const })), {
      commit: async () => {
        calls += 1;
        if (calls <= 3) throw new Error(`disk full (${calls})`);
      },
    });
    const { spec } = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "eo" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { total: 5, rpu: 10_000_000 } } },
            { name: "out", sink: { log: {} } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    const summary = await createPipeline(spec, { sinks: { out: sink }, logger }).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 5, acked: 5 });
    const failures = logs.filter((line) => line.msg === "sink commit failed; retrying");
    // The 1st and 2nd failures in a row are logged, the 3rd is not (then the 4th, 8th, …).
    expect(failures.map((line) => [line.failures, line.error])).toEqual([
      [1, "disk full (1)"],
      [2, "disk full (2)"],
    ]);
  });
});
