/**
 * A reduce vertex's I/O (issue #13): its reads (held before the first mark, END_OF_TIME at the end
 * of its input, a taken-over holder's entries adopted), its sink (the window keepers absorb), its
 * ack (window state committed with the ack, closed windows emitted: reduce-vertex.ts) and its
 * fallback (late and unreducible messages).
 */
import type { PartitionedBuffer } from "../buffer/index.js";
import { createBuiltinSink, type BuiltinSinkOptions } from "../connectors/builtin-sinks.js";
import { sinkConnectorFromFunction } from "../connectors/sink-connector.js";
import type { VertexRateLimit } from "../flow/rate-limited-read.js";
import { withRateLimit } from "../flow/rate-limited-read.js";
import type { FailureLog } from "../observability/failure-log.js";
import type { Logger } from "../observability/logger.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import { loadReducer, type ReducerLoadOptions } from "../reduce/load-reducer.js";
import { createWindowStore } from "../reduce/window-store-factory.js";
import { eventLoopTurn } from "./event-loop-turn.js";
import { createFallbackWrite } from "./fallback-writer.js";
import { createForwarder, type ForwardTarget } from "./forwarder.js";
import { readInput } from "./input-read.js";
import { gateSinkFunction } from "./gated-sink.js";
import type { MessageGate } from "./message-gate.js";
import type { RedeliveryGuard } from "./redelivery-guard.js";
import { withForeignPendingAdopted } from "./reduce-read.js";
import { createReduceVertex, type ReduceVertex } from "./reduce-vertex.js";
import type { ReduceVertexSpec } from "./uses-event-time.js";
import { endingTimeAtEndOfStream, holdingBeforeFirstRead, type VertexWatermarks } from "./vertex-watermarks.js";
import type { VertexIO } from "./vertex-machine.js";

export interface ReduceIOOptions {
  readonly vertex: ReduceVertexSpec;
  readonly input: PartitionedBuffer;
  /** This process's consumer name in the input's consumer group. */
  readonly consumer: string;
  readonly gate: MessageGate | undefined;
  readonly guard: RedeliveryGuard | undefined;
  readonly watermarks: VertexWatermarks | undefined;
  readonly rate: VertexRateLimit | undefined;
  readonly counts: VertexCounts;
  /** The vertex's logger. */
  readonly logger: Logger;
  readonly failures: FailureLog;
  /** Where closed windows' results go. */
  readonly targets: readonly ForwardTarget[];
  /** How the reducer's processes (if any) and the fallback sink are built. */
  readonly connectorOptions: ReducerLoadOptions & BuiltinSinkOptions;
  /** Longest a forwarder's udf call may take: none here (results pass through). */
  readonly forwardTimeoutMs: number;
  /** Closers the pipeline runs at its end. */
  readonly closers: Array<() => Promise<void>>;
  readonly onEventTime?: (partition: number, update: { readonly watermark?: number; readonly openWindows: number; readonly stateSize: number }) => void;
  readonly onClaimed?: (partition: number, count: number) => void;
  readonly cancelled: () => boolean;
}

export async function createReduceIO(options: ReduceIOOptions): Promise<{ readonly io: VertexIO; readonly reduce: ReduceVertex }> {
  const { vertex, input, consumer, gate, guard, watermarks, counts: count, logger: log } = options;
  const store = createWindowStore(input, consumer);
  options.closers.push(() => store.close());
  const resultTags = new Map<string, readonly string[]>();
  const forward = createForwarder({
    vertex: vertex.name,
    // Results pass on with their ids; a stage only to carry the reducer's tags for edge conditions.
    stage: { kind: "message", map: (message) => [{ value: message.value, keys: message.keys, ...(resultTags.has(message.id) ? { tags: resultTags.get(message.id)! } : {}) }] },
    targets: options.targets,
    counts: count,
    udfTimeoutMs: options.forwardTimeoutMs,
    logger: log,
    failures: options.failures,
  });
  const reducer = await loadReducer(vertex.name, vertex.udf, vertex.groupBy, options.connectorOptions);
  if (reducer.close !== undefined) options.closers.push(reducer.close);
  const reduce = createReduceVertex({
    vertex: vertex.name,
    partitions: vertex.partitions,
    groupBy: vertex.groupBy,
    reducer,
    store,
    forward: async (messages, tags, context) => {
      for (const [id, given] of tags) resultTags.set(id, given);
      try {
        return await forward(messages, context);
      } finally {
        for (const id of tags.keys()) resultTags.delete(id);
      }
    },
    publish: async (partition, watermark) => watermarks?.publish(partition, watermark),
    observe: (partition, watermark, openWindows, stateSize) => options.onEventTime?.(partition, { ...(watermark === undefined ? {} : { watermark }), openWindows, stateSize }),
    counts: count,
    failures: options.failures,
    logger: log,
    cancelled: options.cancelled,
  });
  await reduce.start();
  const fallbackSink = vertex.fallback === undefined ? undefined : await createBuiltinSink(vertex.name, vertex.fallback, options.connectorOptions);
  if (fallbackSink !== undefined) options.closers.push(() => fallbackSink.close());
  const io: VertexIO = {
    read: withRateLimit(
      options.rate,
      // Entries a taken-over holder read go before this holder's watermark passes them (reduce-read.ts).
      holdingBeforeFirstRead(
        watermarks,
        withForeignPendingAdopted(
          endingTimeAtEndOfStream(watermarks, async (request, signal) => {
            const batch = guard !== undefined ? await guard.read(request, signal) : await readInput(input, consumer, request, signal);
            count.read += batch.entries.length;
            await eventLoopTurn();
            return batch;
          }),
          input,
          consumer,
          (partition, adopted) => {
            count.read += adopted;
            log.warn("took over entries another worker of this reduce vertex read after losing it; they join this epoch", { partition, count: adopted });
            options.onClaimed?.(partition, adopted);
          },
        ),
      ),
    ),
    ack: async (request) => {
      await reduce.ack(request);
      guard?.acknowledged(request.partition, request.offsets);
      count.acked += request.offsets.length;
    },
    sink: sinkConnectorFromFunction(gate === undefined ? reduce.sink : gateSinkFunction(reduce.sink, gate)),
    fallback: createFallbackWrite(fallbackSink?.write, log),
    windows: reduce.windowIo,
  };
  return { io, reduce };
}
