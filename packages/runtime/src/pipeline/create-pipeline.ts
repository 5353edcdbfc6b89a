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
import type { Actor } from "xstate";
import type { SupervisorOutput } from "@weir/actors";
import { hostname } from "node:os";
import type { PartitionedBuffer } from "../buffer/index.js";
import { ConnectorError } from "../connectors/connector-error.js";
import { createFailureLog } from "../observability/failure-log.js";
import { silentLogger } from "../observability/logger.js";
import { emptyCounts, type RunSummary, type VertexCounts } from "../observability/vertex-counters.js";
import type { LoadedSpec } from "../spec/load-spec.js";
import type { PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";
import { elapsedSince, monotonicNow } from "../time/monotonic-clock.js";
import type { VertexRateLimit } from "../flow/rate-limited-read.js";
import { leaseOrderedVertex } from "../flow/ordered-options.js";
import { closeBufferContext, createVertexBuffer, openBufferContext, type BufferContext } from "./buffer-factory.js";
import { closeAll } from "./close-all.js";
import { inProcessUpstreams, IsolationCoordinator } from "./isolation-coordinator.js";
import type { Pipeline, PipelineOptions } from "./pipeline-options.js";
import type { PipelineRun } from "./pipeline-run.js";
import type { ReduceVertex } from "./reduce-vertex.js";
import { selectVertices } from "./select-vertices.js";
import { claimSpecKeys } from "./spec-fingerprint.js";
import { createVertexActor } from "./vertex-actor.js";
import { completeVertex } from "./vertex-completion.js";
import { buildVertexIO } from "./vertex-io.js";
import type { VertexMachine } from "./vertex-machine.js";

export type { EventTimeUpdate, Pipeline, PipelineOptions } from "./pipeline-options.js";

export function createPipeline(loaded: LoadedSpec | PipelineSpec, options: PipelineOptions = {}): Pipeline {
  const spec = "spec" in loaded && "baseDir" in loaded ? loaded.spec : (loaded as PipelineSpec);
  const specFile = "spec" in loaded && "baseDir" in loaded ? loaded.file : undefined;
  const name = spec.metadata.name;
  const logger = (options.logger ?? silentLogger).child({ pipeline: name });
  const vertices = selectVertices(spec, options.vertices);
  const counts = new Map<string, VertexCounts>(vertices.map((vertex) => [vertex.name, emptyCounts()]));
  const actors = new Map<string, Actor<VertexMachine>>();
  const buffers = new Map<string, PartitionedBuffer>();
  const committedWatermarks: Record<string, Record<number, number>> = {};
  const ended = new Set<string>();
  let bufferContext: BufferContext | undefined;
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

  const run: PipelineRun = {
    spec,
    name,
    options,
    logger,
    consumer: options.consumer ?? `${hostname()}-${process.pid}`,
    durable: spec.spec.buffer.type === "redis",
    claimIdleMs: spec.spec.buffer.type === "redis" ? spec.spec.buffer.claimIdle : 0,
    counts,
    failures: createFailureLog(logger),
    closers: [],
    isolation: new IsolationCoordinator(inProcessUpstreams(vertices.map((vertex) => vertex.name), spec.spec.edges)),
    rateLimits: new Map<string, VertexRateLimit>(),
    discarded: new Map<string, number[]>(),
    reduceVertices: new Map<string, ReduceVertex>(),
    bufferContext: () => bufferContext,
    bufferOf(vertex) {
      let buffer = buffers.get(vertex);
      if (buffer === undefined) {
        buffer = createVertexBuffer(bufferContext!, vertex);
        buffers.set(vertex, buffer);
        const opened = buffer;
        run.closers.push(() => opened.close());
      }
      return buffer;
    },
    isFinished: () => finished,
    async end(status, reason) {
      if (finished) return;
      finished = true;
      for (const actor of actors.values()) actor.stop();
      await closeAll(run.closers, logger);
      run.failures.close();
      finish?.(summary(status, reason));
    },
  };

  const sendDrain = () => {
    // In memory, drain the sources and let end of stream cascade so nothing held in memory is
    // lost; in Redis every vertex drains at once, and what is unread stays in the streams.
    for (const vertex of vertices) {
      if (run.durable || vertex.kind === "source") actors.get(vertex.name)?.send({ type: "pipeline.drain" });
    }
  };

  const onVertexDone = async (vertex: VertexSpec, output: SupervisorOutput | undefined) => {
    // A stopped actor completes without output: stop() has already ended the run.
    if (finished || output === undefined) return;
    if (!(await completeVertex(run, vertex, output))) return;
    ended.add(vertex.name);
    if (vertices.every((candidate) => ended.has(candidate.name))) await run.end(drainRequested ? "drained" : "completed");
  };

  /** Builds the vertices' actors in order (their I/O first); false when the run ended meanwhile. */
  const buildActors = async (): Promise<boolean> => {
    for (const vertex of vertices) {
      // `ordered` on Redis: one worker at a time runs the vertex (standby until its lease is free).
      const release = await leaseOrderedVertex({ spec, vertex, buffer: () => run.bufferOf(vertex.name), consumer: run.consumer, logger, cancelled: () => finished, onLost: (reason) => void run.end("failed", reason) });
      if (release === undefined) return false;
      if (release !== null) run.closers.push(release);
      const io = await buildVertexIO(run, vertex);
      // Stopped or drained while waiting (for Redis, say): start nothing.
      if (finished) return false;
      const actor = createVertexActor(run, vertex, io, {
        onWatermark: (partition, watermark) => {
          (committedWatermarks[vertex.name] ??= {})[partition] = watermark;
          options.onEventTime?.(vertex.name, partition, { watermark });
        },
        onDone: (output) => void onVertexDone(vertex, output),
      });
      actors.set(vertex.name, actor);
    }
    return true;
  };

  return {
    name,
    spec,
    consumer: run.consumer,
    actors,
    counts: () => Object.fromEntries(counts),
    watermarks: () => Object.fromEntries(Object.entries(committedWatermarks).map(([vertex, perPartition]) => [vertex, { ...perPartition }])),
    rateLimits: () => Object.fromEntries([...run.rateLimits].map(([vertex, rate]) => [vertex, rate.limiter.status()])),
    discards: () => Object.fromEntries([...run.discarded].map(([vertex, perPartition]) => [vertex, [...perPartition]])),
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
      run.closers.push(() => closeBufferContext(context));
      const done = new Promise<RunSummary>((resolve) => (finish = resolve));
      try {
        // Before anything reads or writes: refuse keys that belong to another spec of this name.
        if (context.connection !== undefined) await claimSpecKeys(context.connection, spec, specFile);
        if (!(await buildActors())) return done;
      } catch (error) {
        // A stop or drain during the start closed the connection under a waiting command.
        if (finished) return done;
        await run.end("failed", error instanceof Error ? error.message : String(error));
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
        void run.end("drained", "drained before the pipeline had started; nothing was read");
        return;
      }
      sendDrain();
    },
    stop(reason = "stopped before completion") {
      void run.end("failed", reason);
    },
  };
}
