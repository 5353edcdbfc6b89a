/**
 * A vertex's I/O for its actors (vertex-machine.ts): how its readers read and ack (a source, or
 * its input buffer with claims, the redelivery guard, rate limit, watermarks and parked
 * retryLater messages), what its sink sessions write through (vertex-sink.ts) and where
 * fallbacks go. A reduce vertex's I/O is reduce-io.ts.
 */
import { createBuiltinSink } from "../connectors/builtin-sinks.js";
import type { SourceConnector } from "../connectors/source-connector.js";
import type { PartitionedBuffer } from "../buffer/index.js";
import { effectiveLimits, type VertexSpec } from "../spec/pipeline-spec.js";
import { createVertexRateLimit, withRateLimit, type VertexRateLimit } from "../flow/rate-limited-read.js";
import { withDelayedRelease } from "../flow/delayed-reader.js";
import type { DelayedRedeliveryOptions } from "../flow/delayed-sink.js";
import { createDelayedStore } from "../flow/delayed-store-factory.js";
import { createClaimSchedule, type ClaimSchedule } from "./claim-schedule.js";
import { withCommitLogging } from "./commit-logging.js";
import { connectorOptions } from "./connector-options.js";
import { eventLoopTurn } from "./event-loop-turn.js";
import { createFallbackWrite } from "./fallback-writer.js";
import { downstreamBuffers, forwardTargets } from "./forward-targets.js";
import { readInput } from "./input-read.js";
import { createMessageGate, type MessageGate } from "./message-gate.js";
import { loadMessageValidator } from "./message-schema.js";
import { NO_TIMEOUT_MS, type PipelineRun } from "./pipeline-run.js";
import { createReduceIO } from "./reduce-io.js";
import { createRedeliveryGuard, withPoisonCheck, type RedeliveryGuard } from "./redelivery-guard.js";
import { retryPolicyFor } from "./retry-policy.js";
import { isReduceVertex, type ReduceVertexSpec } from "./uses-event-time.js";
import type { VertexIO } from "./vertex-machine.js";
import { createVertexSink } from "./vertex-sink.js";
import { vertexSource } from "./vertex-source.js";
import { endingTimeAtEndOfStream, holdingBeforeFirstRead, vertexWatermarks, type VertexWatermarks } from "./vertex-watermarks.js";

export async function buildVertexIO(run: PipelineRun, vertex: VertexSpec): Promise<VertexIO> {
  const count = run.counts.get(vertex.name)!;
  const limits = effectiveLimits(run.spec, vertex);
  const logger = run.logger.child({ vertex: vertex.name });
  const input = vertex.kind === "source" ? undefined : run.bufferOf(vertex.name);
  const watermarks = vertexWatermarks({ spec: run.spec, vertex, processor: run.consumer, downstream: downstreamBuffers(run, vertex), ...(input === undefined ? {} : { input }), claimIdleMs: run.claimIdleMs, logger, cancelled: () => run.isFinished() });
  if (watermarks !== undefined) run.closers.push(async () => watermarks.close());
  const plainSource = vertex.kind === "source" ? await vertexSource(run, vertex) : undefined;
  const source = plainSource === undefined || watermarks === undefined ? plainSource : watermarks.source(plainSource);
  if (source !== undefined) run.closers.push(() => source.close());
  const claim = createClaimSchedule(run.claimIdleMs);
  // limits.rateLimit: the reads below ask it for tokens first (flow/rate-limited-read.ts).
  const connection = run.bufferContext()?.connection;
  const rate = createVertexRateLimit({ spec: run.spec, vertex, limits, logger: run.logger, ...(connection === undefined ? {} : { connection }) });
  if (rate !== undefined) run.rateLimits.set(vertex.name, rate);
  if (rate !== undefined) run.closers.push(async () => rate.limiter.close());
  // Durable inputs count deliveries: a message that keeps killing its worker goes to the fallback.
  const guard =
    input?.pendingDeliveries === undefined
      ? undefined
      : createRedeliveryGuard({ vertex: vertex.name, buffer: input, consumer: run.consumer, maxDeliveries: limits.maxDeliveries, claimIdleMs: run.claimIdleMs, claims: claim, coordinator: run.isolation, logger, onClaimed: (partition, count) => run.options.onClaimed?.(vertex.name, partition, count) });
  const vertexGate = await createVertexGate(vertex, limits.maxMessageSize);
  const gate = guard === undefined ? vertexGate : withPoisonCheck(vertexGate, guard);
  if (isReduceVertex(vertex)) return reduceIO(run, vertex, input!, gate, guard, watermarks, rate);
  // retryLater answers: parked in a store beside the vertex's input (docs/flow-control.md).
  const delayedStore = vertex.kind === "source" ? undefined : createDelayedStore(run.bufferContext()!, vertex);
  const delayed: DelayedRedeliveryOptions | undefined =
    delayedStore === undefined
      ? undefined
      : { vertex: vertex.name, store: delayedStore, retry: retryPolicyFor(vertex), counts: count, countsWritten: vertex.kind === "sink", failures: run.failures, failureKind: vertex.kind === "sink" ? "sinkFailed" : "udfFailed" };
  if (delayedStore !== undefined) run.closers.push(() => delayedStore.close());
  const sink = withCommitLogging(await createVertexSink(run, vertex, limits.resultTimeout, gate, delayed), logger, (reason) => void run.end("failed", `vertex '${vertex.name}': ${reason}`));
  run.closers.push(() => sink.close());
  const fallbackSink = vertex.kind !== "source" && vertex.fallback !== undefined ? await createBuiltinSink(vertex.name, vertex.fallback, connectorOptions(run, vertex)) : undefined;
  if (fallbackSink !== undefined) run.closers.push(() => fallbackSink.close());
  const io: VertexIO = {
    // Before its first read of a partition, a worker holds its writer downstream (vertex-watermarks.ts).
    read: withRateLimit(rate, holdingBeforeFirstRead(watermarks, endingTimeAtEndOfStream(watermarks, plainRead(run, vertex, { source, input, guard, claim })))),
    ack: async (request) => {
      if (source !== undefined) await source.ack(request.partition, request.offsets);
      else if (guard !== undefined) await guard.ack(request.partition, request.offsets);
      else await input!.ack(request.partition, request.offsets);
      count.acked += request.offsets.length;
      // A partition with a message parked by retryLater acks without its watermark (flow/delayed-reader.ts, I7).
      await watermarks?.publish(request.partition, request.watermark);
    },
    sink,
    fallback: createFallbackWrite(fallbackSink?.write, logger),
  };
  return delayedStore === undefined ? io : withDelayedRelease(io, delayedStore, count);
}

interface ReadSources {
  readonly source: SourceConnector | undefined;
  readonly input: PartitionedBuffer | undefined;
  readonly guard: RedeliveryGuard | undefined;
  readonly claim: ClaimSchedule;
}

/** A read from the source, or from the input (through the redelivery guard on Redis), claiming a dead consumer's entries when due. */
function plainRead(run: PipelineRun, vertex: VertexSpec, { source, input, guard, claim }: ReadSources): VertexIO["read"] {
  const count = run.counts.get(vertex.name)!;
  return async (request, signal) => {
    if (guard !== undefined) {
      const guarded = await guard.read(request, signal);
      count.read += guarded.entries.length;
      await eventLoopTurn();
      return guarded;
    }
    const batch =
      source !== undefined
        ? await source.read(request.partition, { max: request.max, timeoutMs: request.timeoutMs, signal })
        : await readInput(input!, run.consumer, request, signal);
    // Entries a dead consumer left pending longer than claimIdle are taken over here (I5).
    if (input !== undefined && batch.entries.length === 0 && !request.fromPending && claim.isDue(request.partition)) {
      const claimed = await input.claimIdle(request.partition, run.consumer, run.claimIdleMs, request.max);
      if (claimed.length > 0) {
        run.logger.warn("claimed entries of an idle consumer", { vertex: vertex.name, partition: request.partition, count: claimed.length });
        run.options.onClaimed?.(vertex.name, request.partition, claimed.length);
        count.read += claimed.length;
        return { entries: claimed, endOfStream: false, ...(batch.watermark === undefined ? {} : { watermark: batch.watermark }) };
      }
    }
    count.read += batch.entries.length;
    await eventLoopTurn(); // a pipeline that never waits must still hear signals and timers
    return batch;
  };
}

/** A reduce vertex's I/O (reduce-io.ts); its keepers are attached to its supervisor's once the actor exists. */
async function reduceIO(
  run: PipelineRun,
  vertex: ReduceVertexSpec,
  input: PartitionedBuffer,
  gate: MessageGate | undefined,
  guard: RedeliveryGuard | undefined,
  watermarks: VertexWatermarks | undefined,
  rate: VertexRateLimit | undefined,
): Promise<VertexIO> {
  const { io, reduce } = await createReduceIO({
    vertex,
    input,
    consumer: run.consumer,
    gate,
    guard,
    watermarks,
    rate,
    counts: run.counts.get(vertex.name)!,
    logger: run.logger.child({ vertex: vertex.name }),
    failures: run.failures,
    targets: forwardTargets(run, vertex),
    connectorOptions: connectorOptions(run, vertex),
    forwardTimeoutMs: NO_TIMEOUT_MS,
    closers: run.closers,
    onEventTime: (partition, update) => run.options.onEventTime?.(vertex.name, partition, update),
    onClaimed: (partition, count) => run.options.onClaimed?.(vertex.name, partition, count),
    cancelled: () => run.isFinished(),
  });
  run.reduceVertices.set(vertex.name, reduce);
  return io;
}

/** The message gate of a udf or sink vertex: its schema and size limit; none on sources. */
async function createVertexGate(vertex: VertexSpec, maxMessageSize: number | undefined): Promise<MessageGate | undefined> {
  if (vertex.kind === "source") return undefined;
  const validate = vertex.schema === undefined ? undefined : await loadMessageValidator(vertex.name, vertex.schema);
  return createMessageGate({
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
    ...(validate === undefined ? {} : { validate }),
  });
}
