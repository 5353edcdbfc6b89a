import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTraceFileWriter } from "../src/observability/trace-file-writer.js";
import { encodeForTrace, parseTraceLine, reviveTraceValue } from "../src/observability/trace-format.js";

const dir = mkdtempSync(path.join(tmpdir(), "weir-trace-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: number) => `${JSON.stringify({ k: "ev", i, pad: "x".repeat(100) })}\n`;

describe("the trace file writer", () => {
  it("keeps every line, in order, and holds at most maxQueueBytes by making the writer wait", async () => {
    const file = path.join(dir, "bounded.jsonl");
    const writer = createTraceFileWriter(file, { maxQueueBytes: 8 * 1024, chunkBytes: 2 * 1024 });
    // Written in one synchronous burst: async writes cannot complete in between, so the queue
    // fills and the writer must block instead of growing or dropping.
    for (let i = 0; i < 5000; i += 1) writer.write(line(i));
    const stats = await writer.close();
    expect(stats.error).toBeNull();
    expect(stats.elided).toBe(0);
    expect(stats.lines).toBe(5000);
    expect(stats.blockingWrites).toBeGreaterThan(0);
    expect(stats.maxQueuedBytes).toBeLessThanOrEqual(8 * 1024 + line(0).length);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(5000);
    expect(lines.map((text) => (JSON.parse(text) as { i: number }).i)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(stats.bytes).toBe(readFileSync(file).length);
  });

  it("writes asynchronously without blocking while it keeps up", async () => {
    const file = path.join(dir, "relaxed.jsonl");
    const writer = createTraceFileWriter(file, { chunkBytes: 4 * 1024 });
    for (let i = 0; i < 2000; i += 1) {
      writer.write(line(i));
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const stats = await writer.close();
    expect(stats.blockingWrites).toBe(0);
    expect(stats.asyncWrites).toBeGreaterThan(0);
    expect(readFileSync(file, "utf8").trimEnd().split("\n")).toHaveLength(2000);
  });

  it("writes to targets that are not files (a character device) synchronously", async () => {
    const writer = createTraceFileWriter("/dev/null", { chunkBytes: 1024 });
    for (let i = 0; i < 100; i += 1) writer.write(line(i));
    const stats = await writer.close();
    expect(stats).toMatchObject({ lines: 100, elided: 0, error: null, asyncWrites: 0 });
  });

  it("counts lines written after close as elided instead of throwing", async () => {
    const writer = createTraceFileWriter(path.join(dir, "closed.jsonl"));
    await writer.close();
    expect(() => writer.write(line(0))).not.toThrow();
    expect(writer.stats().elided).toBe(1);
  });
});

describe("trace values", () => {
  it("round-trip batches by column, bytes, errors and bigints", () => {
    const entries = [
      { offset: "1", message: { id: "a", keys: ["k"], value: new Uint8Array([1, 2, 3]), eventTime: 5, headers: { h: "v" } } },
      { offset: "2", message: { id: "b", keys: [], value: new Uint8Array([4]), eventTime: 6, headers: {} } },
    ];
    const event = { type: "xstate.done.actor.x", output: { entries, endOfStream: false }, error: new RangeError("bad"), big: 12n };
    const full = JSON.stringify(encodeForTrace(event, "base64"));
    expect(full).toContain('"$entries":{"offsets":["1","2"],"ids":["a","b"]');
    expect(reviveTraceValue(JSON.parse(full))).toMatchObject({ output: { entries, endOfStream: false }, big: 12n });
    const lean = reviveTraceValue(JSON.parse(JSON.stringify(encodeForTrace(event, "omit")))) as typeof event;
    expect(lean.output.entries.map((entry) => [entry.offset, entry.message.id, entry.message.value.byteLength])).toEqual([["1", "a", 3], ["2", "b", 1]]);
    expect(lean.error).toBeInstanceOf(Error);
    expect(lean.error.message).toBe("bad");
    // Columns that count or repeat are written as the pattern, and read back the same.
    const run = Array.from({ length: 5 }, (_, i) => ({ offset: String(7 + i), message: { id: `in-0-${9 + i}`, keys: [], value: new Uint8Array(4), eventTime: 0, headers: {} } }));
    const packed = JSON.stringify(encodeForTrace(run, "omit"));
    expect(packed).toBe('{"$entries":{"offsets":{"$run":["7",5]},"ids":{"$run":["in-0-",9,5]},"bytes":{"$same":[4,5]}}}');
    expect(reviveTraceValue(JSON.parse(packed))).toEqual(run);
    const irregular = [...run.slice(0, 2), { ...run[4]!, offset: "0099" }];
    expect(reviveTraceValue(JSON.parse(JSON.stringify(encodeForTrace(irregular, "omit"))))).toEqual(irregular);
    const results = parseTraceLine(JSON.stringify({ k: "io", t: 0, a: "v/sink/0", src: "sinkWriter", n: 1, e: { type: "sinkIo.results", results: { $ok: ["a", "b"] } } }));
    expect(results).toMatchObject({ e: { results: [{ id: "a", status: "ok" }, { id: "b", status: "ok" }] } });
  });
});
