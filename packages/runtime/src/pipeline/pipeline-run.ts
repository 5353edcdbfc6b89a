/**
 * What the parts of one pipeline run share: the spec, this process's identity, the counters, the
 * buffers opened so far and the run's end. `createPipelineRun` (create-pipeline-run.ts) builds it
 * once per `createPipeline`; each part (vertex-io.ts, vertex-sink.ts, vertex-actor.ts,
 * vertex-completion.ts …) takes it instead of closing over a long function's locals.
 */
import type { PartitionedBuffer } from "../buffer/index.js";
import type { FailureLog } from "../observability/failure-log.js";
import type { Logger } from "../observability/logger.js";
import type { RunSummary, VertexCounts } from "../observability/vertex-counters.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { VertexRateLimit } from "../flow/rate-limited-read.js";
import type { BufferContext } from "./buffer-factory.js";
import type { IsolationCoordinator } from "./isolation-coordinator.js";
import type { PipelineOptions } from "./pipeline-options.js";
import type { ReduceVertex } from "./reduce-vertex.js";

/**
 * The session's result timeout guards against sinks that never answer; a forwarder is Weir's own
 * code and bounds its udf calls itself, so a long backpressure wait is not a timeout.
 */
export const NO_TIMEOUT_MS = 2_147_483_647;

export interface PipelineRun {
  readonly spec: PipelineSpec;
  readonly name: string;
  readonly options: PipelineOptions;
  readonly logger: Logger;
  /** This process's consumer name in each buffer's consumer group. */
  readonly consumer: string;
  /** A Redis buffer: input survives the process, so readers re-read their pending entries first. */
  readonly durable: boolean;
  /** How long a consumer's pending entries stay its own before others claim them; 0 in memory. */
  readonly claimIdleMs: number;
  readonly counts: ReadonlyMap<string, VertexCounts>;
  /** Failed attempts, drops and dedups: counted per vertex, logged a line per interval and at the end. */
  readonly failures: FailureLog;
  /** Run in order when the run ends, each even when one before it fails (close-all.ts). */
  readonly closers: Array<() => Promise<void>>;
  readonly isolation: IsolationCoordinator;
  readonly rateLimits: Map<string, VertexRateLimit>;
  /** Messages `onFull: discardLatest` dropped, per target vertex, per partition. */
  readonly discarded: Map<string, number[]>;
  /** Reduce vertices by name: their acks go to the window keepers their supervisor spawns. */
  readonly reduceVertices: Map<string, ReduceVertex>;
  /** The buffers' connection and settings, once `start()` opened them. */
  bufferContext(): BufferContext | undefined;
  /** The input buffer of `vertex`, opened once per process (read by it, written by its upstreams). */
  bufferOf(vertex: string): PartitionedBuffer;
  /** The run has ended (completed, failed, stopped): nothing new should start. */
  isFinished(): boolean;
  /** Ends the run once: stops the actors, closes everything, resolves `start()` with the summary. */
  end(status: RunSummary["status"], reason?: string): Promise<void>;
}
