import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromSinkAttempts, type Message, type SinkIoEvent, type SinkResult } from "@weir/actors";
import { createPipeline, fallbackHeaders, parseSpec, sinkConnectorFromFunction, type PipelineSpecInput, type SinkConnector } from "@weir/runtime";
import { createMessageGate, sortMessages } from "../src/pipeline/message-gate.js";
import { MessageSchemaError } from "../src/pipeline/message-schema-error.js";
import { loadMessageValidator, validatorFromJsonSchema, validatorFromSchemaExport } from "../src/pipeline/message-schema.js";
import { listSource } from "./support/list-source.js";
import { MAX_MESSAGE_SIZE, message, mixed, oversizedReason, poison, poisonIds, valid, validIds } from "./support/poison-messages.js";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
const sinkDir = fileURLToPath(new URL("../../../examples/python-sink/", import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-poison-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Vertices = PipelineSpecInput["spec"]["vertices"];
type Edges = PipelineSpecInput["spec"]["edges"];

function spec(vertices: Vertices, edges: Edges, limits: PipelineSpecInput["spec"]["limits"] = {}) {
  return parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "poison" }, spec: { limits, vertices, edges } }, fixtures);
}

interface FallbackLine {
  readonly id: string;
  readonly headers: Record<string, string>;
}

async function readFallback(file: string): Promise<Map<string, FallbackLine>> {
  const text = await readFile(file, "utf8");
  const lines = text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as FallbackLine);
  return new Map(lines.map((line) => [line.id, line]));
}

function expectDeadLetters(letters: Map<string, FallbackLine>, vertex: string, flavour: "zod" | "jsonSchema"): void {
  expect(new Set(letters.keys())).toEqual(poisonIds);
  for (const entry of poison) {
    const letter = letters.get(entry.message.id)!;
    expect(letter.headers[fallbackHeaders.reason], entry.message.id).toMatch(entry[flavour]);
    expect(letter.headers[fallbackHeaders.vertex]).toBe(vertex);
    expect(letter.headers[fallbackHeaders.attempts]).toBe("1");
  }
}

/** A sink function that records every id it is given. */
function recordingSink() {
  const received = new Map<string, number>();
  const write = async (messages: readonly Message[]): Promise<SinkResult[]> => {
    for (const entry of messages) received.set(entry.id, (received.get(entry.id) ?? 0) + 1);
    return messages.map((entry) => ({ id: entry.id, status: "ok" }));
  };
  return { received, write };
}

describe("poison and malformed messages", () => {
  it("acceptance: a poison message never reaches the sink and lands in the DLQ with the validation error", async () => {
    const dlq = path.join(dir, "sink-dlq.jsonl");
    const sink = recordingSink();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          {
            name: "out",
            partitions: 2,
            sink: { module: { path: "./unused.mjs" }, fallback: { jsonl: { path: dlq } } },
            schema: { module: { path: "./order-schema.mjs", export: "order" } },
          },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 10, readTimeout: "10ms", maxMessageSize: MAX_MESSAGE_SIZE },
      ),
      { sources: { in: listSource(mixed()) }, sinks: { out: sink.write } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    // The sink saw every valid message once, and no poison at all.
    expect(new Set(sink.received.keys())).toEqual(validIds);
    expect([...sink.received.values()].every((count) => count === 1)).toBe(true);
    expectDeadLetters(await readFallback(dlq), "out", "zod");
    expect(summary.vertices["out"]).toMatchObject({ ok: valid.length, fallback: poison.length, dropped: 0, protocolErrors: 0, acked: valid.length + poison.length });
  });

  it("a udf vertex with a JSON Schema: the poison never reaches the udf and falls back with the reason", async () => {
    const dlq = path.join(dir, "udf-dlq.jsonl");
    const udfSaw = new Set<string>();
    const sink = recordingSink();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          { name: "map", partitions: 3, udf: { builtin: { name: "cat" } }, schema: { jsonSchema: { path: "./order.schema.json" } }, fallback: { jsonl: { path: dlq } } },
          { name: "out", sink: { log: {} } },
        ],
        [
          { from: "in", to: "map" },
          { from: "map", to: "out" },
        ],
        { readBatchSize: 8, readTimeout: "10ms", maxMessageSize: MAX_MESSAGE_SIZE },
      ),
      {
        sources: { in: listSource(mixed()) },
        udfs: {
          map: (input) => {
            udfSaw.add(input.id);
            return [{ value: input.value }];
          },
        },
        sinks: { out: sink.write },
      },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(udfSaw).toEqual(validIds);
    expect(new Set(sink.received.keys())).toEqual(validIds);
    expectDeadLetters(await readFallback(dlq), "map", "jsonSchema");
    expect(summary.vertices["map"]).toMatchObject({ ok: valid.length, fallback: poison.length, dropped: 0 });
  });

  it("maxMessageSize alone: only oversized messages fall back, nothing is decoded", async () => {
    const dlq = path.join(dir, "size-dlq.jsonl");
    const sink = recordingSink();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          { name: "out", sink: { module: { path: "./unused.mjs" } }, fallback: { jsonl: { path: dlq } }, limits: { maxMessageSize: MAX_MESSAGE_SIZE } },
        ],
        [{ from: "in", to: "out" }],
      ),
      { sources: { in: listSource(mixed()) }, sinks: { out: sink.write } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const letters = await readFallback(dlq);
    expect([...letters.keys()]).toEqual(["oversized"]);
    expect(letters.get("oversized")!.headers[fallbackHeaders.reason]).toBe(oversizedReason);
    expect(sink.received.size).toBe(valid.length + poison.length - 1);
  });

  // Sinks that are not a function: the gate wraps their writer and completes their attempts.
  const streamSinks: Array<[string, () => SinkConnector & { received: Set<string> }]> = [
    [
      "a stream writer answering in several frames",
      () => {
        const received = new Set<string>();
        const writer = fromSinkAttempts((input, sendBack) => {
          const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
          const timer = setTimeout(() => {
            for (const entry of input.messages) received.add(entry.id);
            const results = input.messages.map((entry): SinkResult => ({ id: entry.id, status: "ok" }));
            const half = Math.ceil(results.length / 2);
            const frames: SinkIoEvent[] = [
              { type: "sinkIo.sent", ...frame },
              { type: "sinkIo.results", ...frame, results: results.slice(0, half) },
              { type: "sinkIo.results", ...frame, results: results.slice(half) },
              { type: "sinkIo.endOfResults", ...frame },
            ];
            for (const event of frames) sendBack(event);
          }, 1);
          return () => clearTimeout(timer);
        });
        return { writer, received, close: async () => undefined };
      },
    ],
    [
      "a connector object built from a function (its allOk frame)",
      () => {
        const received = new Set<string>();
        const connector = sinkConnectorFromFunction(async (messages) => {
          for (const entry of messages) received.add(entry.id);
          return messages.map((entry) => ({ id: entry.id, status: "ok" as const }));
        });
        return { ...connector, received };
      },
    ],
  ];

  it.each(streamSinks)("%s: the poison falls back, the rest is written, no protocol error", async (_name, makeSink) => {
    const dlq = path.join(dir, `stream-${_name.length}-dlq.jsonl`);
    const sink = makeSink();
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          { name: "out", partitions: 2, sink: { log: {} }, schema: { module: { path: "./order-schema.mjs", export: "order" } }, fallback: { jsonl: { path: dlq } } },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 10, readTimeout: "10ms", maxMessageSize: MAX_MESSAGE_SIZE },
      ),
      { sources: { in: listSource(mixed()) }, sinks: { out: sink } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(sink.received).toEqual(validIds);
    expectDeadLetters(await readFallback(dlq), "out", "zod");
    expect(summary.vertices["out"]).toMatchObject({ ok: valid.length, fallback: poison.length, protocolErrors: 0 });
  });

  it("a process sink (python) behind the gate receives only the valid messages", async () => {
    const dlq = path.join(dir, "process-dlq.jsonl");
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          {
            name: "out",
            partitions: 2,
            sink: { process: { command: ["python3", "sink.py"], cwd: sinkDir, env: { SINK_OUTPUT: path.join(dir, "py-{partition}.jsonl") } } },
            schema: { jsonSchema: { path: "./order.schema.json" } },
            fallback: { jsonl: { path: dlq } },
          },
        ],
        [{ from: "in", to: "out" }],
        { readBatchSize: 10, readTimeout: "10ms", maxMessageSize: MAX_MESSAGE_SIZE },
      ),
      { sources: { in: listSource(mixed()) } },
    );
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    const written = new Set<string>();
    for (const file of (await readdir(dir)).filter((name) => name.startsWith("py-"))) {
      for (const line of (await readFile(path.join(dir, file), "utf8")).split("\n").filter(Boolean)) written.add((JSON.parse(line) as { id: string }).id);
    }
    expect(written).toEqual(validIds);
    expectDeadLetters(await readFallback(dlq), "out", "jsonSchema");
    expect(summary.vertices["out"]).toMatchObject({ ok: valid.length, fallback: poison.length, protocolErrors: 0 });
  });

  it("a schema that cannot be loaded fails the start with the file and a fix", async () => {
    const pipeline = createPipeline(
      spec(
        [
          { name: "in", source: { generator: { total: 1 } } },
          { name: "out", sink: { log: {} }, schema: { jsonSchema: { path: "./missing.schema.json" } }, fallback: { log: {} } },
        ],
        [{ from: "in", to: "out" }],
      ),
    );
    await expect(pipeline.start()).rejects.toThrow(/JSON Schema .*missing\.schema\.json of vertex 'out': cannot read it: .*check the path/);
  });
});

describe("message gate", () => {
  it("passes the input array itself when nothing is refused", async () => {
    const gate = createMessageGate({ validate: validatorFromSchemaExport((await import("./fixtures/order-schema.mjs")).order, "order") })!;
    const { accepted, refused } = await sortMessages(gate, valid);
    expect(accepted).toBe(valid);
    expect(refused).toEqual([]);
  });

  it("has nothing to do without a schema or a size limit", () => {
    expect(createMessageGate({})).toBeUndefined();
  });

  it("refuses, never throws, when the schema itself throws", async () => {
    const throwing = { safeParse: () => { throw new Error("boom"); } };
    const gate = createMessageGate({ validate: validatorFromSchemaExport(throwing, "t") })!;
    const { refused } = await sortMessages(gate, [message("a", "{}")]);
    expect(refused).toEqual([{ id: "a", status: "fallback", reason: "invalid message: the schema check threw: boom" }]);
  });

  it("waits for an asynchronous Standard Schema", async () => {
    const asyncSchema = { "~standard": { version: 1, vendor: "test", validate: async (value: unknown) => (value === 1 ? { value } : { issues: [{ message: "must be 1", path: [{ key: "n" }, 0] }] }) } };
    const gate = createMessageGate({ validate: validatorFromSchemaExport(asyncSchema, "t") })!;
    const { accepted, refused } = await sortMessages(gate, [message("one", "1"), message("two", "2")]);
    expect(accepted.map((entry) => entry.id)).toEqual(["one"]);
    expect(refused).toEqual([{ id: "two", status: "fallback", reason: "invalid message: /n/0: must be 1" }]);
  });

  it("lists at most five problems, and escapes JSON Pointer segments", () => {
    const validate = validatorFromJsonSchema({ type: "object", properties: { "a/b": { type: "string" } }, patternProperties: { "^n": { type: "number" } } }, "t");
    expect(validate({ "a/b": 1 })).toBe("/a~1b: must be string");
    const many = validatorFromJsonSchema({ type: "array", items: { type: "integer" } }, "t");
    expect(many(["a", "b", "c", "d", "e", "f", "g"])).toBe("/0: must be integer; /1: must be integer; /2: must be integer; /3: must be integer; /4: must be integer (and 2 more)");
  });

  it("rejects what is not a schema, draft-04 and asynchronous JSON Schemas", async () => {
    expect(() => validatorFromSchemaExport(() => true, "export 'x'")).toThrow(MessageSchemaError);
    expect(() => validatorFromSchemaExport(42, "export 'x'")).toThrow(/export 'x' is a number, not a schema; export a zod schema/);
    expect(() => validatorFromJsonSchema({ $schema: "http://json-schema.org/draft-04/schema#" }, "s")).toThrow(/draft-04.* is not supported; use draft-07/);
    expect(() => validatorFromJsonSchema({ $async: true, type: "object" }, "s")).toThrow(/asynchronous schemas/);
    expect(() => validatorFromJsonSchema({ type: "nope" }, "s")).toThrow(/Ajv cannot compile it/);
    await expect(loadMessageValidator("out", { module: { path: path.join(fixtures, "order-schema.mjs"), export: "missing" } })).rejects.toThrow(/has no export 'missing'; it exports: order/);
  });
});
