/**
 * The JSON the dashboard serves (`GET /api/snapshot`, and each `snapshot` frame of `GET /api/events`),
 * documented in docs/dashboard.md. Plain data only, so `curl` and other tools can read it.
 */

import type { VertexCounts } from "../observability/vertex-counters.js";

/** The format tag of a snapshot; bumped when a field changes meaning. */
export const DASHBOARD_FORMAT = "weir.dashboard/v1";

export interface GraphVertex {
  readonly name: string;
  readonly kind: "source" | "udf" | "sink";
  readonly partitions: number;
  /** What the vertex runs: `generator`, `builtin:cat`, `module`, `jsonl`, `process` … */
  readonly runs: string;
  /** Its input buffer's writers' policy when full; null for a source (it has no input buffer). */
  readonly onFull: string | null;
  readonly bufferMaxLength: number | null;
  readonly fallback: string | null;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** `{ operator, values }` of the edge's tag condition; null when every message passes. */
  readonly conditions: { readonly operator: string; readonly values: readonly string[] } | null;
  /** Partitions of the buffer the edge writes into (the `to` vertex's). */
  readonly partitions: number;
}

export interface PipelineGraph {
  readonly vertices: readonly GraphVertex[];
  readonly edges: readonly GraphEdge[];
}

/** One partition of one vertex, as one process sees it. Counters are totals since that process started. */
export interface PartitionView {
  readonly partition: number;
  readonly read: number;
  readonly acked: number;
  /** Messages per second over the last sample interval. */
  readonly readRate: number;
  readonly ackRate: number;
  readonly ok: number;
  readonly fallback: number;
  readonly dropped: number;
  readonly retries: number;
  readonly protocolErrors: number;
  /** Input buffer fill (null for a source, or when the buffer could not be asked). */
  readonly buffer: { readonly length: number; readonly pending: number; readonly maxLength: number; readonly usage: number; readonly isFull: boolean } | null;
}

/** Where one partition stands in an open epoch's EOT join. */
export type JoinStatus = "done" | "eotReceived" | "waitingForEot";

export interface EpochView {
  readonly epoch: number;
  readonly partitions: ReadonlyArray<{ readonly partition: number; readonly status: JoinStatus }>;
  /** The partitions the supervisor still waits for (not `done`). */
  readonly waitingFor: readonly number[];
  /** How long the epoch has been closed (first seen by the sampler), in ms. */
  readonly openMs: number;
  /** How long since its first partition was done: the join's wait so far, in ms (0 before). */
  readonly waitingMs: number;
  readonly committing: boolean;
}

export interface VertexView {
  readonly name: string;
  /** The supervisor's state, e.g. `running.joining`, or `draining.intake.closingFinal, draining.commits.committing.acking`. */
  readonly state: string;
  readonly partitions: readonly PartitionView[];
  readonly epochs: readonly EpochView[];
  readonly committedEpochs: number;
  /**
   * The vertex's own counters in this process (the run summary's, flow control's `retriedLater` and
   * `heldBack` included): `dropped` includes what its forwarder dropped because no edge's condition
   * matched, which no partition counts.
   */
  readonly totals: Readonly<VertexCounts> | null;
  /** Messages the writers discarded into this vertex's full input (`onFull: discardLatest`), per partition. */
  readonly discarded: readonly number[];
  /** The worker that reports it (attach mode), else null. */
  readonly worker: string | null;
}

export interface ActorEvent {
  readonly type: string;
  /** ms since the Unix epoch. */
  readonly at: number;
}

export interface ActorView {
  /** `out`, `out/reader/1`, `out/batcher/1`, `out/sink/1` (docs/observability.md). */
  readonly path: string;
  /** The machine id in `GET /api/machines`: supervisor, partitionReader, batcher, sinkSession, windowKeeper. */
  readonly machine: string;
  /** Active state node ids, e.g. `["sinkSession.writing"]`, for highlighting. */
  readonly active: readonly string[];
  /** The state value flattened: `running.committing.acking`, `draining.intake.flushed, draining.commits.idle`. */
  readonly state: string;
  /** The newest events it received, newest last. */
  readonly events: readonly ActorEvent[];
  readonly worker: string | null;
}

/** What one process runs and reports: sampled every interval. */
export interface ProcessState {
  readonly vertices: readonly VertexView[];
  readonly actors: readonly ActorView[];
  /** Each vertex's watermarks and open windows (event-time pipelines; run mode only). */
  readonly eventTime?: readonly VertexEventTime[];
}

export interface PendingView {
  readonly vertex: string;
  readonly partition: number;
  readonly count: number;
}

export interface ClaimView {
  readonly vertex: string;
  readonly partition: number;
  readonly count: number;
  readonly at: number;
}

export interface WorkerView {
  /** The worker's consumer name (`<pipeline>-<replica>` or `<host>-<pid>`). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly startedAt: number;
  /** Redis server time of its last heartbeat, ms. */
  readonly lastBeatAt: number;
  /** Beating: its last heartbeat is less than 3 intervals old. */
  readonly alive: boolean;
  /** It exited cleanly. A worker neither alive nor stopped is dead (killed, frozen, cut off). */
  readonly stopped: boolean;
  readonly vertices: ReadonlyArray<{ readonly name: string; readonly partitions: number }>;
  /** Entries of its consumer still pending (XPENDING per consumer). */
  readonly pending: readonly PendingView[];
  /** For a dead worker: claims other workers made on its partitions since its last heartbeat. */
  readonly claimedBy: ReadonlyArray<ClaimView & { readonly worker: string }>;
}

export interface DeadLetterView {
  readonly vertex: string;
  readonly id: string;
  readonly partition: number | null;
  readonly epoch: number | null;
  readonly attempts: number | null;
  readonly reason: string;
  readonly enqueuedAt: number;
}

export interface DeadLetters {
  /** Dead letters per vertex (bullmq fallbacks); messages other fallbacks took are in `fallback` counts. */
  readonly perVertex: Readonly<Record<string, number>>;
  readonly newest: readonly DeadLetterView[];
  /** Why the queues could not be read, if they could not. */
  readonly error: string | null;
}

/** What holds a partition's watermark back: the expected writer with the lowest mark, and its processor. */
export interface WatermarkHolder {
  /** `<upstream vertex>/<its input partition>`. */
  readonly writer: string;
  /** The writing process (consumer name); null when not known (no mark from it yet). */
  readonly processor: string | null;
  /** Its watermark (ms); null: it has not marked yet, which holds the partition's watermark undefined. */
  readonly watermark: number | null;
  /** Since when (ms since the Unix epoch) it has held that watermark; null when not known. */
  readonly since: number | null;
  /** False: its processor stopped marking (dead or cut off) and is kept only because no live one replaced it. */
  readonly live: boolean;
}

/** A reduce vertex's open window (from its window state). */
export interface OpenWindowView {
  readonly keys: readonly string[];
  readonly start: number;
  readonly end: number;
}

/** One partition's event time (issue #13): its watermark, how far behind now, what holds it back, its open windows. */
export interface PartitionEventTime {
  readonly partition: number;
  /** ms; null before the partition has one. `Number.MAX_SAFE_INTEGER`: every writer ended. */
  readonly watermark: number | null;
  /** now − watermark, ms (0 at the end of time); null without a watermark. */
  readonly lagMs: number | null;
  /** When the watermark last rose (ms since the Unix epoch); null when not known. */
  readonly since: number | null;
  readonly heldBy: WatermarkHolder | null;
  /** Open windows of a reduce vertex (null for other vertices); {@link windows} lists the first ones. */
  readonly openWindows: number | null;
  readonly windows: readonly OpenWindowView[];
  /** Whose view this is: the reading consumer (attach mode), else null. */
  readonly reader: string | null;
}

export interface VertexEventTime {
  readonly vertex: string;
  readonly partitions: readonly PartitionEventTime[];
}

export interface DashboardSnapshot {
  readonly format: typeof DASHBOARD_FORMAT;
  readonly pipeline: string;
  /** `run`: this process runs the pipeline; `attach`: `weir ui` reads a Redis deployment's workers. */
  readonly mode: "run" | "attach";
  readonly at: number;
  readonly sampleIntervalMs: number;
  readonly graph: PipelineGraph;
  readonly vertices: readonly VertexView[];
  readonly actors: readonly ActorView[];
  readonly workers: readonly WorkerView[];
  readonly deadLetters: DeadLetters;
  /** Watermarks and open windows per vertex and partition; empty for a pipeline without event time. */
  readonly eventTime: readonly VertexEventTime[];
  /** What the dashboard could not read right now (e.g. Redis unreachable), for the page to show. */
  readonly problems: readonly string[];
}
