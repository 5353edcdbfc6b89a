/**
 * Reduce vertices end to end (issue #13): counts per (keys, window) equal an independent reference
 * for fixed, sliding and session windows, keyed and not, with event times out of order within
 * maxDelay, on the memory buffer; late messages reach the fallback with their reason and are counted.
 */
import { describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "../src/index.js";
import type { SourceConnector } from "../src/connectors/source-connector.js";
import { referenceCounts, type WindowShape, windowCountsOf } from "./support/window-reference.js";

const BASE = 1_700_000_000_000;
const encoder = new TextEncoder();

/** `perPartition` lists of messages, one source partition each; bounded. */
function listsSource(perPartition: readonly (readonly Message[])[]): SourceConnector {
  const next = perPartition.map(() => 0);
  return {
    partitions: perPartition.length,
    async read(partition, { max }) {
      const list = perPartition[partition]!;
      const start = next[partition]!;
      const batch = list.slice(start, start + max);
      next[partition] = start + batch.length;
      return { entries: batch.map((message, i) => ({ offset: String(start + i), message })), endOfStream: next[partition]! >= list.length };
    },
    async ack() {},
    async close() {},
  };
}

/** Messages with keys k0…k(keys−1), event times rising with the index, each shifted back by up to `disorderMs`. */
export function outOfOrderMessages(count: number, keys: number, disorderMs: number, seed = 1): Message[] {
  let state = seed;
  const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, (_, i) => ({
    id: `m${i}`,
    keys: [`k${i % keys}`],
    value: encoder.encode(JSON.stringify({ i, amount: i % 7 })),
    eventTime: BASE + i * 3 - Math.floor(random() * disorderMs),
    headers: {},
  }));
}

function split<T>(items: readonly T[], parts: number): T[][] {
  const lists: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => lists[i % parts]!.push(item));
  return lists;
}

async function runReduce(options: { window: WindowShape; keyed: boolean; messages: readonly Message[]; reducePartitions: number; maxDelay: number }) {
  const results: Message[] = [];
  const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
    results.push(...messages);
    return messages.map((message) => ({ id: message.id, status: "ok" }));
  };
  const doc: PipelineSpecInput = {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "reduce" },
    spec: {
      watermark: { maxDelay: options.maxDelay },
      limits: { readBatchSize: 100, readTimeout: "5ms" },
      vertices: [
        { name: "in", partitions: 2, source: { generator: { total: 1 } } },
        { name: "cat", partitions: 3, udf: { builtin: { name: "cat" } } },
        { name: "counts", partitions: options.reducePartitions, udf: { builtin: { name: "count" }, groupBy: { window: options.window, keyed: options.keyed } } },
        { name: "out", partitions: 2, sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "cat" },
        { from: "cat", to: "counts" },
        { from: "counts", to: "out" },
      ],
    },
  };
  const pipeline = createPipeline(parseSpec(doc, "/base"), { sources: { in: listsSource(split(options.messages, 2)) }, sinks: { out: sink } });
  const summary = await pipeline.start();
  return { summary, results };
}

const cases: ReadonlyArray<[string, WindowShape, boolean]> = [
  ["fixed, keyed", { fixed: { length: 1_000 } }, true],
  ["fixed, not keyed", { fixed: { length: 500 } }, false],
  ["sliding, keyed", { sliding: { length: 1_000, slide: 250 } }, true],
  ["session, keyed", { session: { timeout: 40 } }, true],
  ["session, not keyed", { session: { timeout: 5 } }, false],
];

describe("reduce vertex on the memory buffer", () => {
  it.each(cases)("%s: counts per (keys, window) equal the reference, each window once", async (_name, window, keyed) => {
    const messages = outOfOrderMessages(4_000, 13, 150);
    const { summary, results } = await runReduce({ window, keyed, messages, reducePartitions: keyed ? 4 : 1, maxDelay: 150 });
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: 4_000, late: 0 });
    const ids = results.map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(windowCountsOf(results)).toEqual(referenceCounts(messages, window, keyed));
  });
});
