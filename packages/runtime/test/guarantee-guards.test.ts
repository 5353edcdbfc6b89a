/**
 * Issue #10 item 14: each of these behaviours was broken on purpose and the suite stayed green.
 * Each test here fails when its behaviour breaks.
 */
import { describe, expect, it } from "vitest";
import type { Message, SinkContext, SinkFunction, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { silentLogger } from "../src/observability/logger.js";
import { createFallbackWrite } from "../src/pipeline/fallback-writer.js";
import { gateSinkFunction } from "../src/pipeline/gated-sink.js";
import { createMessageGate } from "../src/pipeline/message-gate.js";

const encoder = new TextEncoder();
const message = (id: string, bytes = 4): Message => ({ id, keys: [], value: encoder.encode("x".repeat(bytes)), eventTime: 0, headers: {} });
const context = (): SinkContext => ({ vertex: "out", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal });
const item = (id: string) => ({ message: message(id), reason: `failed ${id}`, attempts: 3 });

describe("the fallback writer counts only what the fallback sink accepted", () => {
  const fallbackInput = { vertex: "out", partition: 0, epoch: 1, items: [item("a"), item("b"), item("c")] };

  it("resolves when the fallback sink answers ok for every message", async () => {
    const write: SinkFunction = async (messages) => messages.map((m) => ({ id: m.id, status: "ok" }));
    await expect(createFallbackWrite(write, silentLogger)(fallbackInput)).resolves.toBeUndefined();
  });

  it.each<[string, (m: Message) => SinkResult | undefined]>([
    ["failure", (m) => (m.id === "b" ? { id: m.id, status: "failure", error: "disk full" } : { id: m.id, status: "ok" })],
    ["fallback", (m) => (m.id === "b" ? { id: m.id, status: "fallback", reason: "no" } : { id: m.id, status: "ok" })],
    ["no answer", (m) => (m.id === "b" ? undefined : { id: m.id, status: "ok" })],
  ])("rejects when the fallback sink answers %s for one message, naming it (the session then retries)", async (_, answer) => {
    const write: SinkFunction = async (messages) => messages.flatMap((m) => answer(m) ?? []);
    await expect(createFallbackWrite(write, silentLogger)(fallbackInput)).rejects.toThrow("the fallback sink did not accept 1 of 3 messages (first: b)");
  });
});

describe("a gated sink whose write throws while the gate refused some messages", () => {
  it("answers failure for the accepted messages (retried) and fallback for the refused ones — never ok", async () => {
    const gate = createMessageGate({ maxMessageSize: 8 })!;
    const seen: string[] = [];
    const throwing: SinkFunction = async (messages) => {
      seen.push(...messages.map((m) => m.id));
      throw new Error("connection reset");
    };
    const results = await gateSinkFunction(throwing, gate)([message("small-1"), message("big", 64), message("small-2")], context());
    expect(seen).toEqual(["small-1", "small-2"]);
    const byId = Object.fromEntries(results.map((result) => [result.id, result]));
    expect(byId["small-1"]).toEqual({ id: "small-1", status: "failure", error: "connection reset" });
    expect(byId["small-2"]).toEqual({ id: "small-2", status: "failure", error: "connection reset" });
    expect(byId["big"]).toMatchObject({ status: "fallback", reason: "oversized: 64 bytes > maxMessageSize 8" });
    expect(results).toHaveLength(3);
  });
});

describe("messages that no edge takes on the fast path (sources, cat) are dropped and counted", () => {
  const keepOnly = { tags: { operator: "or" as const, values: ["keep"] } };
  const run = async (input: PipelineSpecInput) => {
    const delivered: string[] = [];
    const sink: SinkFunction = async (messages) => (delivered.push(...messages.map((m) => m.id)), messages.map((m) => ({ id: m.id, status: "ok" as const })));
    const summary = await createPipeline(parseSpec(input, process.cwd()), { sinks: { out: sink } }).start();
    return { summary, delivered };
  };

  it("cat: untagged messages on an edge that needs a tag", async () => {
    const { summary, delivered } = await run({
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "untaken-cat" },
      spec: {
        limits: { readTimeout: "5ms" },
        vertices: [
          { name: "in", source: { generator: { total: 30, rpu: 1_000_000 } } },
          { name: "cat", partitions: 2, udf: { builtin: { name: "cat" } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        edges: [
          { from: "in", to: "cat" },
          { from: "cat", to: "out", conditions: keepOnly },
        ],
      },
    });
    expect(summary.status).toBe("completed");
    expect(delivered).toEqual([]);
    expect(summary.vertices["cat"]).toMatchObject({ read: 30, written: 0, dropped: 30 });
  });

  it("source: generated messages on an edge that needs a tag", async () => {
    const { summary, delivered } = await run({
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: "untaken-source" },
      spec: {
        limits: { readTimeout: "5ms" },
        vertices: [
          { name: "in", source: { generator: { total: 20, rpu: 1_000_000 } } },
          { name: "out", sink: { blackhole: {} } },
        ],
        edges: [{ from: "in", to: "out", conditions: keepOnly }],
      },
    });
    expect(summary.status).toBe("completed");
    expect(delivered).toEqual([]);
    expect(summary.vertices["in"]).toMatchObject({ read: 20, written: 0, dropped: 20 });
  });
});
