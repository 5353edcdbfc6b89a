/**
 * The run's shared state and its one end: the counters, the buffers opened so far, the supervisor
 * actors, the committed watermarks, and `end()`, which stops the actors, closes everything and
 * resolves `start()` with the summary. `createPipeline`'s parts (start-pipeline.ts,
 * pipeline-drain.ts, live-readings.ts …) take this instead of closing over one long function's locals.
 */
import type { Actor } from "xstate";
import { hostname } from "node:os";
import type { PartitionedBuffer } from "../buffer/index.js";
import { ConnectorError } from "../connectors/connector-error.js";
import { createFailureLog } from "../observability/failure-log.js";
import { silentLogger } from "../observability/logger.js";
import { emptyCounts, type RunSummary, type VertexCounts } from "../observability/vertex-counters.js";
import type { PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";
import { elapsedSince, monotonicNow } from "../time/monotonic-clock.js";
import type { VertexRateLimit } from "../flow/rate-limited-read.js";
import { closeBufferContext, createVertexBuffer, openBufferContext, type BufferContext } from "./buffer-factory.js";
import { closeAll } from "./close-all.js";
import { inProcessUpstreams, IsolationCoordinator } from "./isolation-coordinator.js";
import type { PipelineOptions } from "./pipeline-options.js";
import type { PipelineRun } from "./pipeline-run.js";
import type { ReduceVertex } from "./reduce-vertex.js";
import type { VertexMachine } from "./vertex-machine.js";

/** The run as `createPipeline`'s own parts see it: the shared state, and what only they touch. */
export interface RunControl extends PipelineRun {
  /** The supervisor actors by vertex name, set as start-pipeline.ts builds them. */
  readonly actors: Map<string, Actor<VertexMachine>>;
  /** The input buffers this process opened, by vertex. */
  readonly buffers: ReadonlyMap<string, PartitionedBuffer>;
  /** Each vertex's committed watermark per input partition, as its epochs commit. */
  readonly watermarks: Record<string, Record<number, number>>;
  /** `start()` was called. */
  hasStarted(): boolean;
  /** Resolved by `end()` with the run's summary: what `start()` returns. */
  readonly done: Promise<RunSummary>;
  /**
   * The run's start: its clock and its buffers' connection (closed at the end). Undefined when the
   * run has already ended (stopped before it started): nothing is opened then. A second call
   * throws: a pipeline runs once.
   */
  begin(): BufferContext | undefined;
}

export function createPipelineRun(spec: PipelineSpec, vertices: readonly VertexSpec[], options: PipelineOptions): RunControl {
  const name = spec.metadata.name;
  const logger = (options.logger ?? silentLogger).child({ pipeline: name });
  const counts = new Map<string, VertexCounts>(vertices.map((vertex) => [vertex.name, emptyCounts()]));
  const actors = new Map<string, Actor<VertexMachine>>();
  const buffers = new Map<string, PartitionedBuffer>();
  let bufferContext: BufferContext | undefined;
  let startedAt = 0;
  let finished = false;
  // Made now, not at start: a stop before the start must still settle the start that follows.
  let finish!: (summary: RunSummary) => void;
  const done = new Promise<RunSummary>((resolve) => (finish = resolve));

  const run: RunControl = {
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
    actors,
    buffers,
    watermarks: {},
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
    hasStarted: () => startedAt !== 0,
    done,
    begin() {
      if (startedAt !== 0) throw new ConnectorError("PIPELINE_ALREADY_STARTED", `pipeline '${name}' was already started; create a new one to run again`);
      if (finished) return undefined;
      startedAt = monotonicNow();
      const context = openBufferContext(spec, logger);
      bufferContext = context;
      run.closers.push(() => closeBufferContext(context));
      return context;
    },
    async end(status, reason) {
      if (finished) return;
      finished = true;
      for (const actor of actors.values()) actor.stop();
      await closeAll(run.closers, logger);
      run.failures.close();
      finish(summarize(name, counts, startedAt === 0 ? 0 : elapsedSince(startedAt), status, reason));
    },
  };
  return run;
}

function summarize(pipeline: string, counts: ReadonlyMap<string, VertexCounts>, elapsedMs: number, status: RunSummary["status"], reason: string | undefined): RunSummary {
  return {
    status,
    pipeline,
    durationMs: Math.round(elapsedMs),
    ...(reason === undefined ? {} : { reason }),
    vertices: Object.fromEntries([...counts].map(([vertex, value]) => [vertex, { ...value }])),
  };
}
