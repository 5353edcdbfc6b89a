/**
 * Helpers for event-time pipeline tests (issue #13): a reduce spec builder, a recording sink,
 * a source of fixed per-partition lists (bounded, or holding partitions open), and a condition wait.
 */
import type { Message, SinkResult } from "@weir/actors";
import type { PipelineSpecInput } from "../../src/index.js";
import type { SourceConnector } from "../../src/connectors/source-connector.js";

/** Waits until `condition` holds; fails with `describe()`'s account of the state when `timeoutMs` passes. */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs: number, describe: () => unknown = () => ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; state: ${JSON.stringify(describe())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A sink that records what it got, in arrival order, with the partition. */
export function recordingSink() {
  const arrivals: Array<{ readonly message: Message; readonly partition: number }> = [];
  const sink = async (messages: readonly Message[], context: { readonly partition: number }): Promise<SinkResult[]> => {
    for (const message of messages) arrivals.push({ message, partition: context.partition });
    return messages.map((message) => ({ id: message.id, status: "ok" }));
  };
  return { arrivals, sink, results: () => arrivals.map((arrival) => arrival.message) };
}

/** The JSON of a builtin count result. */
export interface CountResult {
  readonly keys: readonly string[];
  readonly start: number;
  readonly end: number;
  readonly count: number;
}

const decoder = new TextDecoder();
export const countOf = (message: Message): CountResult => JSON.parse(decoder.decode(message.value)) as CountResult;

/**
 * Per-partition lists of messages. A partition listed in `open` never ends (it reads nothing more
 * once its list is done) until `release()`; `gate(p)` may hold a partition's next read until it
 * resolves (a source that is behind, or slow).
 */
export function listsSource(perPartition: readonly (readonly Message[])[], options: { readonly open?: readonly number[]; readonly gate?: (partition: number, next: number) => Promise<void> | undefined } = {}) {
  const next = perPartition.map(() => 0);
  let released = false;
  const source: SourceConnector = {
    partitions: perPartition.length,
    async read(partition, { max, timeoutMs }) {
      const list = perPartition[partition]!;
      const start = next[partition]!;
      await options.gate?.(partition, start);
      const batch = list.slice(start, start + max);
      next[partition] = start + batch.length;
      const done = next[partition]! >= list.length;
      const open = options.open?.includes(partition) === true && !released;
      if (batch.length === 0 && open) await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 20)));
      return { entries: batch.map((message, i) => ({ offset: String(start + i), message })), endOfStream: done && !open };
    },
    async ack() {},
    async close() {},
  };
  return { source, release: () => void (released = true) };
}

const encoder = new TextEncoder();

/** A message with `keys` at event time `eventTime`. */
export function timed(id: string, keys: readonly string[], eventTime: number): Message {
  return { id, keys, value: encoder.encode(JSON.stringify({ id })), eventTime, headers: {} };
}

export interface ReduceSpecOptions {
  readonly name?: string;
  readonly source: Record<string, unknown>;
  readonly sourcePartitions?: number;
  readonly mapPartitions?: number;
  readonly reducePartitions: number;
  readonly window: Record<string, unknown>;
  readonly keyed?: boolean;
  /** The reduce vertex's udf without groupBy; builtin count by default. */
  readonly reducer?: Record<string, unknown>;
  readonly watermark: Record<string, unknown>;
  readonly fallback?: Record<string, unknown>;
  readonly readBatchSize?: number;
  readonly readTimeout?: string;
  /** `spec.buffer` (memory by default). */
  readonly buffer?: Record<string, unknown>;
}

/** in (source) → cat (map) → counts (reduce, builtin count) → out (sink). */
export function reduceSpec(options: ReduceSpecOptions): PipelineSpecInput {
  return {
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: options.name ?? "wm" },
    spec: {
      ...(options.buffer === undefined ? {} : { buffer: options.buffer }),
      watermark: options.watermark,
      limits: { readBatchSize: options.readBatchSize ?? 50, readTimeout: options.readTimeout ?? "10ms" },
      vertices: [
        { name: "in", partitions: options.sourcePartitions ?? 2, source: options.source },
        { name: "cat", partitions: options.mapPartitions ?? 2, udf: { builtin: { name: "cat" } } },
        {
          name: "counts",
          partitions: options.reducePartitions,
          udf: { ...(options.reducer ?? { builtin: { name: "count" } }), groupBy: { window: options.window, keyed: options.keyed ?? true } },
          ...(options.fallback === undefined ? {} : { fallback: options.fallback }),
        },
        { name: "out", partitions: 2, sink: { log: {} } },
      ],
      edges: [
        { from: "in", to: "cat" },
        { from: "cat", to: "counts" },
        { from: "counts", to: "out" },
      ],
    },
  } as PipelineSpecInput;
}
