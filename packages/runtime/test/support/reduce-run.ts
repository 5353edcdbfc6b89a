/**
 * Shared by the reduce e2e tests (issue #13): out-of-order keyed messages, a bounded list source,
 * and the counting pipeline source → cat → counts → sink, on any buffer.
 */
import type { Message, SinkResult } from "@weir/actors";
import { createPipeline, parseSpec, type PipelineSpecInput } from "../../src/index.js";
import type { SourceConnector } from "../../src/connectors/source-connector.js";
import type { WindowShape } from "./window-reference.js";

export const BASE = 1_700_000_000_000;
const encoder = new TextEncoder();

/** `perPartition` lists of messages, one source partition each; bounded. */
export function listsSource(perPartition: readonly (readonly Message[])[]): SourceConnector {
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

/** A sink that answers ok for every message and keeps them in `results`, in arrival order. */
export function collectingSink(): { readonly results: Message[]; readonly sink: (messages: readonly Message[]) => Promise<SinkResult[]> } {
  const results: Message[] = [];
  const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
    results.push(...messages);
    return messages.map((message) => ({ id: message.id, status: "ok" }));
  };
  return { results, sink };
}

export function split<T>(items: readonly T[], parts: number): T[][] {
  const lists: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => lists[i % parts]!.push(item));
  return lists;
}

export interface ReduceRunOptions {
  readonly window: WindowShape;
  readonly keyed: boolean;
  readonly messages: readonly Message[];
  readonly reducePartitions: number;
  readonly maxDelay: number;
  /** The spec's buffer (default memory). */
  readonly buffer?: Record<string, unknown>;
  readonly name?: string;
}

/** Runs source (2 partitions) → cat (3) → counts (the reduce) → a sink collecting every result. */
export async function runReduce(options: ReduceRunOptions) {
  const { results, sink } = collectingSink();
  const doc: PipelineSpecInput = {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: options.name ?? "reduce" },
    spec: {
      ...(options.buffer === undefined ? {} : { buffer: options.buffer }),
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
  } as PipelineSpecInput;
  const pipeline = createPipeline(parseSpec(doc, "/base"), { sources: { in: listsSource(split(options.messages, 2)) }, sinks: { out: sink } });
  const summary = await pipeline.start();
  return { summary, results };
}
