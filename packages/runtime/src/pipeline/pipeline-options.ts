/** What `createPipeline` takes and returns: its options, and the running pipeline's handle. */
import type { Actor, InspectionEvent, Observer } from "xstate";
import type { SinkFunction } from "@weir/actors";
import type { BufferUsage } from "../buffer/index.js";
import type { SinkConnector } from "../connectors/sink-connector.js";
import type { SourceConnector } from "../connectors/source-connector.js";
import type { Logger } from "../observability/logger.js";
import type { RunSummary, VertexCounts } from "../observability/vertex-counters.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { BatchMapFunction, MapFunction } from "../udf/map-function.js";
import type { RateLimitStatus } from "../flow/rate-limiter.js";
import type { AnsweringSinkFunction } from "../flow/delayed-sink.js";
import type { VertexMachine } from "./vertex-machine.js";

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
