/**
 * Builds and runs a pipeline from its spec: one input buffer per non-source vertex, one
 * supervisor actor per vertex (with its readers, batchers and sink sessions), and the
 * end-of-stream cascade that ends a bounded run.
 *
 *   source ──forwarder──▶ [buffer: enrich × P] ──reader/batcher/session──▶ forwarder ──▶ [buffer: out × Q] ──▶ sink
 *
 * A vertex whose supervisor stops declares end of stream to the buffers it writes; a reader
 * that finds its buffer ended and empty drains its vertex; so a bounded run ends vertex by
 * vertex, every epoch committed. `drain()` drains the sources and lets the same cascade finish
 * the rest, so nothing in an in-memory buffer is lost.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from "xstate";
import { actorIds, type SinkFunction, type SupervisorOutput } from "@weir/actors";
import { hostname } from "node:os";
import type { BufferUsage, PartitionedBuffer } from "../buffer/index.js";
import { createBuiltinSink } from "../connectors/builtin-sinks.js";
import { ConnectorError } from "../connectors/connector-error.js";
import { createBuiltinSource } from "../connectors/builtin-sources.js";
import { isSinkConnector, sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import { endedSource, type SourceConnector } from "../connectors/source-connector.js";
import { createFailureLog } from "../observability/failure-log.js";
import { silentLogger, type Logger } from "../observability/logger.js";
import { emptyCounts, type RunSummary, type VertexCounts } from "../observability/vertex-counters.js";
import type { LoadedSpec } from "../spec/load-spec.js";
import { effectiveLimits, type PipelineSpec, type VertexSpec } from "../spec/pipeline-spec.js";
import { catStage, loadMapStage, toMapStage, type BatchMapFunction, type MapFunction } from "../udf/map-function.js";
import { createFallbackWrite } from "./fallback-writer.js";
import { eventLoopTurn } from "./event-loop-turn.js";
import { observeSinkConnector, observeSinkFunction } from "./failure-observing-sink.js";
import { createForwarder, type ForwardTarget } from "./forwarder.js";
import { readInput } from "./input-read.js";
import { observe } from "./observe-vertex.js";
import { withDelayedAnswers } from "./delayed-answers.js";
import { closeAll } from "./close-all.js";
import { selectVertices } from "./select-vertices.js";
import { withCommitLogging } from "./commit-logging.js";
import { gateSinkConnector, gateSinkFunction } from "./gated-sink.js";
import { createMessageGate, type MessageGate } from "./message-gate.js";
import { loadMessageValidator } from "./message-schema.js";
import { createPartitionChooser } from "./partition-choice.js";
import { retryControlWrite } from "./retry-control-write.js";
import { claimSpecKeys } from "./spec-fingerprint.js";
import { retryPolicyFor } from "./retry-policy.js";
import { closeBufferContext, createVertexBuffer, openBufferContext, type BufferContext } from "./buffer-factory.js";
import { provideVertexMachine, type VertexIO, type VertexMachine } from "./vertex-machine.js";
import { createClaimSchedule } from "./claim-schedule.js";
import { inProcessUpstreams, IsolationCoordinator } from "./isolation-coordinator.js";
import { createRedeliveryGuard, withPoisonCheck, type RedeliveryGuard } from "./redelivery-guard.js";
import { elapsedSince, monotonicNow } from "../time/monotonic-clock.js";
import { attemptObserver, createVertexRateLimit, withRateLimit, type VertexRateLimit } from "../flow/rate-limited-read.js";
import type { RateLimitStatus } from "../flow/rate-limiter.js";
import { withDelayedRelease } from "../flow/delayed-reader.js";
import { delayedSinkFunction, type AnsweringSinkFunction, type DelayedRedeliveryOptions } from "../flow/delayed-sink.js";
import { createDelayedStore } from "../flow/delayed-store-factory.js";
import { keyOrderOf, leaseOrderedVertex } from "../flow/ordered-options.js";
import { orderSinkConnector, orderSinkFunction } from "../flow/ordered-sink.js";
import { endingTimeAtEndOfStream, holdingBeforeFirstRead, vertexWatermarks, type VertexWatermarks } from "./vertex-watermarks.js";
import { isReduceVertex, type ReduceVertexSpec } from "./uses-event-time.js";
import type { ReduceVertex } from "./reduce-vertex.js";
import { createReduceIO } from "./reduce-io.js";

// The session's result timeout guards against sinks that never answer; a forwarder is Weir's
// own code and bounds its udf calls itself, so a long backpressure wait is not a timeout.
const NO_TIMEOUT_MS = 2_147_483_647;

export interface PipelineOptions {
  /** Map functions by vertex name, replacing the spec's `udf` of that vertex. */
  readonly udfs?: Readonly<Record<string, MapFunction | { readonly batch: BatchMapFunction }>>;
  /** Sinks by vertex name, replacing the spec's `sink` of that vertex. */
  readonly sinks?: Readonly<Record<string, SinkFunction | AnsweringSinkFunction | SinkConnector>>;
  /** Sources by vertex name, replacing the spec's `source` of that vertex. */
  readonly sources?: Readonly<Record<string, SourceConnector>>;
  readonly logger?: Logger;
  /** Where the `log` sink writes; stdout by default. */
  readonly logStream?: NodeJS.WritableStream;
  /** Any XState inspection observer (e.g. the Stately inspector's `inspect`). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * This process's consumer name in each buffer's consumer group. Stable across restarts of
   * the same worker (`weir run --replica`), so a restarted worker re-reads its own pending
   * entries; unique by default.
   */
  readonly consumer?: string;
  /** Run only these vertices (a worker process of a larger deployment); all by default. */
  readonly vertices?: readonly string[];
  /** Told of every claim of another consumer's idle entries (the dashboard shows who took a dead worker's). */
  readonly onClaimed?: (vertex: string, partition: number, count: number) => void;
  /** Told of each partition's watermark as its epochs commit, and of a reduce vertex's open windows (issue #13). */
  readonly onEventTime?: (vertex: string, partition: number, update: EventTimeUpdate) => void;
}

/** A partition's committed watermark (ms) and, on a reduce vertex, how many windows it holds open. */
export interface EventTimeUpdate {
  readonly watermark?: number;
  readonly openWindows?: number;
  /** A reduce partition's window state size (characters of its JSON). */
  readonly stateSize?: number;
}

export interface Pipeline {
  readonly name: string;
  readonly spec: PipelineSpec;
  /** This process's consumer name in the buffers' consumer groups. */
  readonly consumer: string;
  /** Starts every vertex; resolves with the summary once the run completes or fails. */
  start(): Promise<RunSummary>;
  /**
   * Graceful stop: sources stop reading, everything in flight is processed and committed; the
   * summary's status is then `drained`. Called before `start()` has started the actors, the run
   * drains as soon as they start.
   */
  drain(): void;
  /** Immediate stop: actors stop where they are; unacked input stays pending. */
  stop(reason?: string): void;
  /** Live counters per vertex. */
  counts(): Readonly<Record<string, Readonly<VertexCounts>>>;
  /** Messages `onFull: discardLatest` dropped, per vertex whose input was full, per partition. */
  discards(): Readonly<Record<string, readonly number[]>>;
  /** Fill of every input buffer partition this process has open (for `buffer_*` metrics). */
  bufferUsage(): Promise<ReadonlyArray<{ readonly vertex: string; readonly partition: number; readonly usage: BufferUsage }>>;
  /** Each vertex's committed watermark per input partition (issue #13); empty without event time. */
  watermarks(): Readonly<Record<string, Readonly<Record<number, number>>>>;
  /** Each rate-limited vertex's current limit and time spent waiting for tokens (for `weir_rate_limit*` metrics). */
  rateLimits(): Readonly<Record<string, RateLimitStatus>>;
  /** The running supervisor actors by vertex name (empty before `start`). */
  readonly actors: ReadonlyMap<string, Actor<VertexMachine>>;
}

export function createPipeline(loaded: LoadedSpec | PipelineSpec, options: PipelineOptions = {}): Pipeline {
  const spec = "spec" in loaded && "baseDir" in loaded ? loaded.spec : (loaded as PipelineSpec);
  const specFile = "spec" in loaded && "baseDir" in loaded ? loaded.file : undefined;
  const name = spec.metadata.name;
  const logger = (options.logger ?? silentLogger).child({ pipeline: name });
  const consumer = options.consumer ?? `${hostname()}-${process.pid}`;
  const vertices = selectVertices(spec, options.vertices);
  const durable = spec.spec.buffer.type === "redis";
  const claimIdleMs = spec.spec.buffer.type === "redis" ? spec.spec.buffer.claimIdle : 0;
  const counts = new Map<string, VertexCounts>(vertices.map((vertex) => [vertex.name, emptyCounts()]));
  // Failed attempts, drops and dedups: counted per vertex, logged a line per interval and at the end.
  const failures = createFailureLog(logger);
  const actors = new Map<string, Actor<VertexMachine>>();
  const buffers = new Map<string, PartitionedBuffer>();
  const discarded = new Map<string, number[]>();
  const rateLimits = new Map<string, VertexRateLimit>();
  const committedWatermarks: Record<string, Record<number, number>> = {};
  let bufferContext: BufferContext | undefined;
  /** The input buffer of `vertex`, opened once per process (read by it, written by its upstreams). */
  const bufferOf = (vertex: string): PartitionedBuffer => {
    let buffer = buffers.get(vertex);
    if (buffer === undefined) {
      buffer = createVertexBuffer(bufferContext!, vertex);
      buffers.set(vertex, buffer);
      const opened = buffer;
      closers.push(() => opened.close());
    }
    return buffer;
  };
  const closers: Array<() => Promise<void>> = [];
  // Reduce vertices by name: their acks go to the window keepers their supervisor spawns.
  const reduceVertices = new Map<string, ReduceVertex>();
  const isolation = new IsolationCoordinator(inProcessUpstreams(vertices.map((vertex) => vertex.name), spec.spec.edges));
  let startedAt = 0;
  /** Every actor started: from then on drain() reaches them. Before, a drain or stop ends the start. */
  let running = false;
  let finish: ((summary: RunSummary) => void) | undefined;
  let finished = false;
  // drain() may come before start() has built the actors (a signal while modules load or Redis
  // connects): remembered, and sent once they run. It also makes the run's status `drained`.
  let drainRequested = false;

  const summary = (status: RunSummary["status"], reason?: string): RunSummary => ({
    status,
    pipeline: name,
    durationMs: Math.round(elapsedSince(startedAt)),
    ...(reason === undefined ? {} : { reason }),
    vertices: Object.fromEntries([...counts].map(([vertex, value]) => [vertex, { ...value }])),
  });

  const end = async (status: RunSummary["status"], reason?: string) => {
    if (finished) return;
    finished = true;
    for (const actor of actors.values()) actor.stop();
    await closeAll(closers, logger);
    failures.close();
    finish?.(summary(status, reason));
  };

  const buildIO = async (vertex: VertexSpec): Promise<VertexIO> => {
    const count = counts.get(vertex.name)!;
    const limits = effectiveLimits(spec, vertex);
    const input = vertex.kind === "source" ? undefined : bufferOf(vertex.name);
    const watermarks = vertexWatermarks({ spec, vertex, processor: consumer, downstream: downstreamBuffers(vertex), ...(input === undefined ? {} : { input }), claimIdleMs, logger: logger.child({ vertex: vertex.name }), cancelled: () => finished });
    if (watermarks !== undefined) closers.push(async () => watermarks.close());
    const plainSource = vertex.kind === "source" ? await sourceOf(vertex) : undefined;
    const source = plainSource === undefined || watermarks === undefined ? plainSource : watermarks.source(plainSource);
    if (source !== undefined) closers.push(() => source.close());
    const claim = createClaimSchedule(claimIdleMs);
    // limits.rateLimit: the reads below ask it for tokens first (flow/rate-limited-read.ts).
    const rate = createVertexRateLimit({ spec, vertex, limits, logger, ...(bufferContext?.connection === undefined ? {} : { connection: bufferContext.connection }) });
    if (rate !== undefined) rateLimits.set(vertex.name, rate);
    if (rate !== undefined) closers.push(async () => rate.limiter.close());
    // Durable inputs count deliveries: a message that keeps killing its worker goes to the fallback.
    const guard =
      input?.pendingDeliveries === undefined
        ? undefined
        : createRedeliveryGuard({ vertex: vertex.name, buffer: input, consumer, maxDeliveries: limits.maxDeliveries, claimIdleMs, claims: claim, coordinator: isolation, logger: logger.child({ vertex: vertex.name }), onClaimed: (partition, count) => options.onClaimed?.(vertex.name, partition, count) });
    const vertexGate = await createVertexGate(vertex, limits.maxMessageSize);
    const gate = guard === undefined ? vertexGate : withPoisonCheck(vertexGate, guard);
    if (isReduceVertex(vertex)) return reduceIO(vertex, input!, gate, guard, watermarks, rate);
    // retryLater answers: parked in a store beside the vertex's input (docs/flow-control.md).
    const delayedStore = vertex.kind === "source" ? undefined : createDelayedStore(bufferContext!, vertex);
    const delayed: DelayedRedeliveryOptions | undefined =
      delayedStore === undefined
        ? undefined
        : { vertex: vertex.name, store: delayedStore, retry: retryPolicyFor(vertex), counts: count, countsWritten: vertex.kind === "sink", failures, failureKind: vertex.kind === "sink" ? "sinkFailed" : "udfFailed" };
    if (delayedStore !== undefined) closers.push(() => delayedStore.close());
    const sink = withCommitLogging(await createVertexSink(vertex, limits.resultTimeout, gate, delayed), logger.child({ vertex: vertex.name }), (reason) =>
      void end("failed", `vertex '${vertex.name}': ${reason}`),
    );
    closers.push(() => sink.close());
    const fallbackSink = vertex.kind !== "source" && vertex.fallback !== undefined ? await createBuiltinSink(vertex.name, vertex.fallback, sinkOptions(vertex)) : undefined;
    if (fallbackSink !== undefined) closers.push(() => fallbackSink.close());
    const io: VertexIO = {
      // Before its first read of a partition, a worker holds its writer downstream (vertex-watermarks.ts).
      read: withRateLimit(rate, holdingBeforeFirstRead(watermarks, endingTimeAtEndOfStream(watermarks, async (request, signal) => {
        if (guard !== undefined) {
          const guarded = await guard.read(request, signal);
          count.read += guarded.entries.length;
          await eventLoopTurn();
          return guarded;
        }
        const batch =
          source !== undefined
            ? await source.read(request.partition, { max: request.max, timeoutMs: request.timeoutMs, signal })
            : await readInput(input!, consumer, request, signal);
        // Entries a dead consumer left pending longer than claimIdle are taken over here (I5).
        if (input !== undefined && batch.entries.length === 0 && !request.fromPending && claim.isDue(request.partition)) {
          const claimed = await input.claimIdle(request.partition, consumer, claimIdleMs, request.max);
          if (claimed.length > 0) {
            logger.warn("claimed entries of an idle consumer", { vertex: vertex.name, partition: request.partition, count: claimed.length });
            options.onClaimed?.(vertex.name, request.partition, claimed.length);
            count.read += claimed.length;
            return { entries: claimed, endOfStream: false, ...(batch.watermark === undefined ? {} : { watermark: batch.watermark }) };
          }
        }
        count.read += batch.entries.length;
        await eventLoopTurn(); // a pipeline that never waits must still hear signals and timers
        return batch;
      }))),
      ack: async (request) => {
        if (source !== undefined) await source.ack(request.partition, request.offsets);
        else if (guard !== undefined) await guard.ack(request.partition, request.offsets);
        else await input!.ack(request.partition, request.offsets);
        count.acked += request.offsets.length;
        // A message parked by retryLater comes back after this epoch: its partition's watermark waits for it (I7).
        const parked = delayedStore !== undefined && delayedStore.waiting(request.partition) > 0;
        await watermarks?.publish(request.partition, parked ? undefined : request.watermark);
      },
      sink,
      fallback: createFallbackWrite(fallbackSink?.write, logger.child({ vertex: vertex.name })),
    };
    return delayedStore === undefined ? io : withDelayedRelease(io, delayedStore, count);
  };

  /** A reduce vertex's I/O (reduce-io.ts); its keepers are attached to its supervisor's once the actor exists. */
  const reduceIO = async (
    vertex: ReduceVertexSpec,
    input: PartitionedBuffer,
    gate: MessageGate | undefined,
    guard: RedeliveryGuard | undefined,
    watermarks: VertexWatermarks | undefined,
    rate: VertexRateLimit | undefined,
  ): Promise<VertexIO> => {
    const { io, reduce } = await createReduceIO({
      vertex,
      input,
      consumer,
      gate,
      guard,
      watermarks,
      rate,
      counts: counts.get(vertex.name)!,
      logger: logger.child({ vertex: vertex.name }),
      failures,
      targets: forwardTargets(vertex),
      connectorOptions: sinkOptions(vertex),
      forwardTimeoutMs: NO_TIMEOUT_MS,
      closers,
      onEventTime: (partition, update) => options.onEventTime?.(vertex.name, partition, update),
      onClaimed: (partition, count) => options.onClaimed?.(vertex.name, partition, count),
      cancelled: () => finished,
    });
    reduceVertices.set(vertex.name, reduce);
    return io;
  };

  // Process sinks and udfs start one process per partition and log their stderr.
  // Connectors on the redis buffer's server use its TLS settings (buffer.tls, server-tls.ts).
  const sinkOptions = (vertex: VertexSpec) => ({
    ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
    partitions: vertex.partitions,
    logger,
    resultTimeout: effectiveLimits(spec, vertex).resultTimeout,
    // Violations of a process map or fallback (no sink session judges them) count like a session's.
    onProtocolError: () => void (counts.get(vertex.name)!.protocolErrors += 1),
    ...(bufferContext?.tls === undefined ? {} : { redisTls: bufferContext.tls }),
    onDeduped: (count: number, reason: string) => {
      counts.get(vertex.name)!.deduped += count;
      failures.record(vertex.name, "deduped", count, reason);
    },
  });

  /**
   * A source that declared end of stream downstream in an earlier run (a Redis buffer keeps the
   * marker) has nothing left to send, and writing again would hit streams that ended. It
   * completes at once — repeating a declaration a crash may have cut short — and the log says how
   * to run the pipeline again from the start.
   */
  const sourceOf = async (vertex: Extract<VertexSpec, { kind: "source" }>): Promise<SourceConnector> => {
    if (durable) {
      const downstream = spec.spec.edges.filter((edge) => edge.from === vertex.name);
      const ended = await Promise.all(downstream.map((edge) => bufferOf(edge.to).hasEnded(vertex.name)));
      if (ended.includes(true)) {
        logger.warn("source ended in an earlier run on these Redis keys; it sends nothing", {
          vertex: vertex.name,
          hint: "to run the pipeline again from the start, stop its workers and run: weir reset <spec> --yes (or set a new buffer.keyPrefix)",
        });
        return endedSource(vertex.partitions);
      }
    }
    return options.sources?.[vertex.name] ?? createSource(vertex);
  };

  const createSource = (vertex: Extract<VertexSpec, { kind: "source" }>): Promise<SourceConnector> =>
    createBuiltinSource(vertex, { consumer, logger, pipeline: name, ...(bufferContext?.tls === undefined ? {} : { redisTls: bufferContext.tls }) });

  const createVertexSink = async (
    vertex: VertexSpec,
    udfTimeoutMs: number,
    gate: MessageGate | undefined,
    delayed: DelayedRedeliveryOptions | undefined,
  ): Promise<SinkConnector> => {
    // `ordered` (flow/ordered-*.ts): the sink is called, or the udf mapped, in per-key waves; the gate
    // stays in front. Under `ordered` a retryLater is retried within the epoch, so nothing is parked.
    const order = keyOrderOf(spec, vertex, logger, counts.get(vertex.name)!);
    if (vertex.kind === "sink") {
      const custom = options.sinks?.[vertex.name];
      if (custom === undefined) {
        // Every built-in sink but `process` is built from its function (sinkConnectorFromFunction);
        // a process sink's `write` serves fallback writes only, its frames go to the session.
        const fromFunction = !("process" in vertex.sink);
        const created = await createBuiltinSink(vertex.name, vertex.sink, sinkOptions(vertex));
        const builtin = fromFunction ? observedAttempts(vertex).observeConnector(observeSinkConnector(vertex.name, created, failures)) : created;
        // User code (a module or a process) may answer retryLater; Weir's own sinks never do.
        const answering =
          order !== undefined
            ? orderSinkConnector(vertex.name, builtin, order, fromFunction)
            : delayed === undefined || !("module" in vertex.sink || "process" in vertex.sink)
              ? builtin
              : withDelayedAnswers(builtin, delayed, fromFunction);
        return gate === undefined ? answering : gateSinkConnector(answering, gate, fromFunction);
      }
      if (isSinkConnector(custom)) {
        const connector = order === undefined ? custom : orderSinkConnector(vertex.name, custom, order, custom.write !== undefined);
        return gate === undefined ? connector : gateSinkConnector(connector, gate, order !== undefined);
      }
      const observed = observedAttempts(vertex).observe(observeSinkFunction(vertex.name, custom as SinkFunction, failures));
      const answering = order !== undefined ? orderSinkFunction(observed, order) : delayed === undefined ? observed : delayedSinkFunction(observed, delayed);
      return sinkConnectorFromFunction(gate === undefined ? answering : gateSinkFunction(answering, gate));
    }
    const customUdf = vertex.kind === "udf" ? options.udfs?.[vertex.name] : undefined;
    const stage =
      vertex.kind === "source"
        ? undefined
        : customUdf !== undefined
          ? toMapStage(customUdf, `udf of vertex '${vertex.name}'`)
          : await loadMapStage(vertex.name, vertex.udf, { ...sinkOptions(vertex), resultTimeout: udfTimeoutMs });
    if (stage?.kind === "batch" && stage.close !== undefined) closers.push(stage.close);
    const forward = observedAttempts(vertex).observe(createForwarder({
      vertex: vertex.name,
      ...(stage === undefined ? {} : { stage }),
      passThrough: stage === catStage,
      targets: forwardTargets(vertex),
      counts: counts.get(vertex.name)!,
      udfTimeoutMs,
      logger: logger.child({ vertex: vertex.name }),
      failures,
      ...(order === undefined ? {} : { ordered: order }),
    }) as SinkFunction);
    // A udf may answer retryLater; a source's or cat's forwarder passes messages on and never does.
    const answering = order !== undefined || delayed === undefined || stage === undefined || stage === catStage ? forward : delayedSinkFunction(forward, delayed);
    return sinkConnectorFromFunction(gate === undefined ? answering : gateSinkFunction(answering, gate));
  };

  /** The adaptive rate limit's view of a vertex's attempts; passes functions through without one. */
  const observedAttempts = (vertex: VertexSpec) => attemptObserver(rateLimits.get(vertex.name));

  /** The message gate of a udf or sink vertex: its schema and size limit; none on sources. */
  const createVertexGate = async (vertex: VertexSpec, maxMessageSize: number | undefined): Promise<MessageGate | undefined> => {
    if (vertex.kind === "source") return undefined;
    const validate = vertex.schema === undefined ? undefined : await loadMessageValidator(vertex.name, vertex.schema);
    return createMessageGate({
      ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
      ...(validate === undefined ? {} : { validate }),
    });
  };

  const downstreamBuffers = (vertex: VertexSpec): PartitionedBuffer[] => spec.spec.edges.filter((edge) => edge.from === vertex.name).map((edge) => bufferOf(edge.to));

  const forwardTargets = (vertex: VertexSpec): ForwardTarget[] =>
    spec.spec.edges
      .filter((edge) => edge.from === vertex.name)
      .map((edge) => {
        const target = spec.spec.vertices.find((candidate) => candidate.name === edge.to)!;
        return {
          vertex: target.name,
          buffer: bufferOf(target.name),
          onFull: effectiveLimits(spec, target).onFull,
          choosePartition: createPartitionChooser(target.partitions),
          onDiscard: (partition: number, count: number) => {
            const perPartition = discarded.get(target.name) ?? new Array<number>(target.partitions).fill(0);
            perPartition[partition] = (perPartition[partition] ?? 0) + count;
            discarded.set(target.name, perPartition);
          },
          ...(edge.conditions === undefined ? {} : { condition: edge.conditions.tags }),
        };
      });

  const sendDrain = () => {
    // In memory, drain the sources and let end of stream cascade so nothing held in memory is
    // lost; in Redis every vertex drains at once, and what is unread stays in the streams.
    for (const vertex of vertices) {
      if (durable || vertex.kind === "source") actors.get(vertex.name)?.send({ type: "pipeline.drain" });
    }
  };

  const ended = new Set<string>();
  const onVertexDone = async (vertex: VertexSpec, output: SupervisorOutput | undefined) => {
    // A stopped actor completes without output: stop() has already ended the run.
    if (finished || output === undefined) return;
    if (output.status === "failed") {
      logger.error("vertex failed", { vertex: vertex.name, reason: output.reason });
      await end("failed", `vertex '${vertex.name}' failed: ${output.reason ?? "unknown reason"}`);
      return;
    }
    if (durable && output.drained) {
      // Drained, not ended: on Redis the input keeps what was not read, and an end-of-stream
      // marker now would end the pipeline for good — the next run's readers would stop at it.
      // (In memory the drain ends the data with the process: the cascade lets every vertex
      // finish what is in memory.)
      logger.info("vertex drained", { vertex: vertex.name, epochs: output.committedEpochs });
    } else {
      logger.info("vertex completed", { vertex: vertex.name, epochs: output.committedEpochs });
      try {
        // Durable before this process may exit: other workers finish only when they see it.
        const downstream = spec.spec.edges.filter((candidate) => candidate.from === vertex.name);
        // Retried like a data write (Redis over maxmemory, or briefly unreachable): every message
        // is delivered by now, and only this marker lets the next vertices finish.
        await Promise.all(
          downstream.map((edge) =>
            retryControlWrite(() => bufferOf(edge.to).endOfStream(vertex.name), {
              what: `end of stream of vertex '${vertex.name}' into '${edge.to}'`,
              logger: logger.child({ vertex: vertex.name }),
              cancelled: () => finished,
            }),
          ),
        );
      } catch (error) {
        await end("failed", `vertex '${vertex.name}' completed but its end of stream could not be written: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
    }
    ended.add(vertex.name);
    if (vertices.every((candidate) => ended.has(candidate.name))) await end(drainRequested ? "drained" : "completed");
  };

  return {
    name,
    spec,
    consumer,
    actors,
    counts: () => Object.fromEntries(counts),
    watermarks: () => Object.fromEntries(Object.entries(committedWatermarks).map(([vertex, perPartition]) => [vertex, { ...perPartition }])),
    rateLimits: () => Object.fromEntries([...rateLimits].map(([vertex, rate]) => [vertex, rate.limiter.status()])),
    discards: () => Object.fromEntries([...discarded].map(([vertex, perPartition]) => [vertex, [...perPartition]])),
    async bufferUsage() {
      // A closed buffer (the run ended) or an unreachable Redis has nothing to report right now.
      if (finished) return [];
      const usages = [...buffers].flatMap(([vertex, buffer]) =>
        Array.from({ length: buffer.partitions }, (_, partition) =>
          buffer.usage(partition).then(
            (usage) => [{ vertex, partition, usage }],
            () => [],
          ),
        ),
      );
      return (await Promise.all(usages)).flat();
    },
    async start() {
      if (startedAt !== 0) throw new ConnectorError("PIPELINE_ALREADY_STARTED", `pipeline '${name}' was already started; create a new one to run again`);
      startedAt = monotonicNow();
      bufferContext = openBufferContext(spec, logger);
      const context = bufferContext;
      closers.push(() => closeBufferContext(context));
      const done = new Promise<RunSummary>((resolve) => (finish = resolve));
      try {
        // Before anything reads or writes: refuse keys that belong to another spec of this name.
        if (context.connection !== undefined) await claimSpecKeys(context.connection, spec, specFile);
        for (const vertex of vertices) {
          // `ordered` on Redis: one worker at a time runs the vertex (standby until its lease is free).
          const release = await leaseOrderedVertex({ spec, vertex, buffer: () => bufferOf(vertex.name), consumer, logger, cancelled: () => finished, onLost: (reason) => void end("failed", reason) });
          if (release === undefined) return done;
          if (release !== null) closers.push(release);
          const io = await buildIO(vertex);
          // Stopped or drained while waiting (for Redis, say): start nothing.
          if (finished) return done;
          const machine = provideVertexMachine(io);
          const limits = effectiveLimits(spec, vertex);
          const actor = createActor(machine, {
            id: vertex.name,
            ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
            input: {
              vertex: vertex.name,
              partitions: vertex.partitions,
              commitMode: vertex.commit,
              readBatchSize: limits.readBatchSize,
              readTimeoutMs: limits.readTimeout,
              // A reduce vertex checks lateness against the watermark its last epoch committed: one epoch at a time.
              maxInflightEpochs: isReduceVertex(vertex) ? 1 : limits.maxInflightEpochs,
              retry: retryPolicyFor(vertex),
              resultTimeoutMs: vertex.kind === "sink" ? limits.resultTimeout : NO_TIMEOUT_MS,
              // A durable buffer may hold this consumer's entries from before a crash: re-read them first.
              startWithPending: durable && vertex.kind !== "source",
              // No commitEpoch step per epoch for sinks without commit(epoch) (forwarders, most sinks).
              sinkCommit: io.sink.commit !== undefined,
              // A reduce vertex's window keepers are the supervisor's children, so the inspector and traces see them.
              ...(io.windows === undefined ? {} : { windowKeepers: true }),
            },
          });
          reduceVertices.get(vertex.name)?.attach((partition) => actor.system.get(actorIds.windowKeeper(vertex.name, partition)));
          observe(actor, vertex, counts.get(vertex.name)!, logger, failures);
          actor.on("epochCommitted", (event) => {
            if (event.watermarks === undefined) return;
            const perPartition = (committedWatermarks[vertex.name] ??= {});
            for (const [partition, watermark] of Object.entries(event.watermarks)) {
              perPartition[Number(partition)] = watermark;
              options.onEventTime?.(vertex.name, Number(partition), { watermark });
            }
          });
          actor.subscribe({
            complete: () => void onVertexDone(vertex, actor.getSnapshot().output),
            error: (error) => void end("failed", `vertex '${vertex.name}' crashed: ${error instanceof Error ? error.message : String(error)}`),
          });
          actors.set(vertex.name, actor);
        }
      } catch (error) {
        // A stop or drain during the start closed the connection under a waiting command.
        if (finished) return done;
        await end("failed", error instanceof Error ? error.message : String(error));
        throw error;
      }
      if (finished) return done;
      // Downstream first, so every reader is waiting before data flows.
      for (const vertex of [...vertices].reverse()) actors.get(vertex.name)!.start();
      running = true;
      logger.info("pipeline started", { vertices: vertices.map((vertex) => vertex.name) });
      if (drainRequested) sendDrain();
      return done;
    },
    drain() {
      drainRequested = true;
      // While start() still waits (for Redis, a module loading) nothing was read: end the start now,
      // drained. Before start() the drain is remembered and sent once the actors run.
      if (startedAt !== 0 && !running) {
        void end("drained", "drained before the pipeline had started; nothing was read");
        return;
      }
      sendDrain();
    },
    stop(reason = "stopped before completion") {
      void end("failed", reason);
    },
  };
}
