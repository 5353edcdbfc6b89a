/**
 * Issue #10 item 2 (DESIGN §10): a `redisStream` source reads ids without loss — bytes that are
 * not UTF-8 become `base64:<base64>` (stream-message-id.ts) — and a message that dedup drops is
 * counted (`deduped` in the summary, `weir_dedup_total`) and logged, never silent.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec } from "@weir/runtime";
import { createRedisStreamSink } from "../src/connectors/redis-stream-sink.js";
import { idFromBytes, idToBytes } from "../src/connectors/stream-message-id.js";
import { createJsonLogger } from "../src/observability/logger.js";
import { createPipelineMetrics } from "../src/observability/pipeline-metrics.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";
import { parseMetrics, sumMetric } from "./support/weir-cli.js";

const url = redisTestUrl();

describe("message ids from bytes", () => {
  it("keeps UTF-8 text, encodes other bytes as base64: reversibly, and never maps two byte strings to one id", () => {
    const cases = [[0x66, 0x6f], [0xff, 0x41], [0xfe, 0x41], [0xef, 0xbb, 0xbf, 0x41], [...Buffer.from("base64:/0E=")], [...Buffer.from("é✓")], []];
    const ids = cases.map((bytes) => idFromBytes(Uint8Array.from(bytes)));
    expect(ids.slice(0, 3)).toEqual(["fo", "base64:/0E=", "base64:/kE="]);
    expect(ids[5]).toBe("é✓");
    expect(new Set(ids).size).toBe(cases.length);
    for (const [i, bytes] of cases.entries()) expect([...idToBytes(ids[i]!)]).toEqual(bytes);
  });
});

describe.skipIf(url === undefined)("redisStream source ids on Redis", () => {
  const redisUrl = url as string;
  let redis: Redis;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });

  it("delivers binary ids ff 41 and fe 41 both, and counts and logs the second entry of a repeated id as deduped", async () => {
    const prefix = uniquePrefix("ids");
    prefixes.push(prefix);
    const stream = `${prefix}:input`;
    await redis.xadd(stream, "*", "id", Buffer.from([0xff, 0x41]), "value", "a");
    await redis.xadd(stream, "*", "id", Buffer.from([0xfe, 0x41]), "value", "b");
    await redis.xadd(stream, "*", "id", "order-7", "value", "c", "keys", '["eu"]');
    await redis.xadd(stream, "*", "id", "order-7", "value", "d");
    await redis.xadd(stream, "*", "id", "order-8", "value", "e");
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "ids" },
        spec: {
          buffer: { type: "redis", url: redisUrl, keyPrefix: prefix },
          limits: { readBatchSize: 10, readTimeout: "50ms" },
          vertices: [
            { name: "in", source: { redisStream: { url: redisUrl, stream, endWhenEmpty: true } } },
            // One partition: both entries of order-7 land where one dedup set sees them.
            { name: "out", sink: { blackhole: {} } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      process.cwd(),
    );
    const received: Message[] = [];
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      received.push(...messages);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const lines: Array<Record<string, unknown>> = [];
    const logger = createJsonLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    let pipeline: ReturnType<typeof createPipeline> | undefined;
    const metrics = createPipelineMetrics({ pipeline: "ids", processMetrics: false, counts: () => pipeline?.counts() ?? {} });
    pipeline = createPipeline(spec, { sinks: { out: sink }, logger, inspect: metrics.inspect });
    const summary = await pipeline.start();

    expect(summary.status).toBe("completed");
    expect(received.map((message) => message.id).sort()).toEqual(["base64:/0E=", "base64:/kE=", "order-7", "order-8"].sort());
    // The first order-7 (with keys) was written; the second is the same id: deduped, counted, logged.
    expect(new TextDecoder().decode(received.find((message) => message.id === "order-7")!.value)).toBe("c");
    expect(summary.vertices["in"]).toMatchObject({ read: 5, written: 4, deduped: 1 });
    expect(summary.vertices["out"]).toMatchObject({ read: 4, ok: 4, dropped: 0 });
    const dedupLines = lines.filter((line) => line["vertex"] === "in" && String(line["msg"]).startsWith("messages not written again"));
    expect(dedupLines.map((line) => line["count"])).toEqual([1]);
    expect(String(dedupLines[0]!["firstReason"])).toMatch(/already in out\[0\] within its dedup window/);
    expect(sumMetric(parseMetrics(await metrics.metrics()), "weir_dedup_total", { vertex: "in" })).toBe(1);
  });

  it("writes a binary id back as its bytes through the redisStream sink, and reports what its dedup skipped", async () => {
    const prefix = uniquePrefix("ids");
    prefixes.push(prefix);
    const stream = `${prefix}:output`;
    const deduped: number[] = [];
    const sink = createRedisStreamSink({ connection: { url: redisUrl }, stream, keyPrefix: prefix, onDeduped: (count) => deduped.push(count) });
    const message: Message = { id: idFromBytes(Uint8Array.from([0xff, 0x41])), keys: [], value: new Uint8Array([1]), eventTime: 0, headers: {} };
    const context = { vertex: "out", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
    await sink.write!([message], context);
    expect(await sink.write!([message], context)).toEqual([{ id: message.id, status: "ok" }]);
    expect(deduped).toEqual([1]);
    await sink.close();
    const entries = (await redis.xrangeBuffer(stream, "-", "+")) as Array<[Buffer, Buffer[]]>;
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    const idAt = fields.findIndex((field) => field.toString() === "id");
    expect([...fields[idAt + 1]!]).toEqual([0xff, 0x41]);
  });
});
