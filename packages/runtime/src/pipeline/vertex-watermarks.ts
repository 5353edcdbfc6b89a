/**
 * A vertex's part in event time (issue #13): its source reads carry watermarks, and each committed
 * epoch's watermark is published into the buffers it writes, as in-band marks after its data.
 *
 *   source.read ──withSourceWatermark──▶ epoch's watermark ──ack──▶ publish(p, wm) ──▶ marks downstream
 *
 * On a durable input (Redis) shared with other processes, each mark is capped by the entries of
 * its input partition that a suspected dead processor holds (pending-cap.ts), re-read every
 * `claimIdle / 8`: the cap is in this worker's marks before the readers stop counting the dead
 * one's (claimIdle after its last mark).
 *
 * Absent (`undefined`) for pipelines without event time: they publish nothing and pay nothing.
 */
import type { ReadBatchInput, ReadBatchOutput } from "@weir/actors";
import type { PartitionedBuffer } from "../buffer/index.js";
import { END_OF_TIME } from "../time/watermark.js";
import type { SourceConnector } from "../connectors/source-connector.js";
import type { Logger } from "../observability/logger.js";
import type { PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";
import { DEFAULT_WATERMARK } from "../spec/reduce-spec.js";
import { withSourceWatermark } from "../time/source-watermark.js";
import { createPendingCap, suspectInputOf, type PendingCap } from "./pending-cap.js";
import { usesEventTime } from "./uses-event-time.js";
import { createWatermarkPublisher } from "./watermark-publisher.js";

export interface VertexWatermarks {
  /** The vertex's source with watermarks on its reads (sources only; others pass through). */
  source(source: SourceConnector): SourceConnector;
  /** Publishes input partition `partition`'s committed watermark downstream (no-op without downstream). */
  publish(partition: number, watermark: number | undefined): Promise<void>;
  /** Holds input partition `partition`'s writer downstream until its first publish (a no-op for a source, or once published). */
  hold(partition: number): Promise<void>;
  close(): void;
}

// Well below the readers' processorTimeoutMs (Redis: claimIdle, 30 s by default), so a live but
// idle processor is never taken for dead.
const KEEP_ALIVE_MS = 1_000;
// The cap is re-read every claimIdle / 8 (one XPENDING per partition): an entry idle for
// claimIdle / 2 caps the marks within 5/8 of claimIdle, before the readers drop its holder.
const CAP_REFRESH_DIVISOR = 8;
const MIN_REFRESH_MS = 20;

export function vertexWatermarks(options: {
  readonly spec: PipelineSpec;
  readonly vertex: VertexSpec;
  readonly processor: string;
  readonly downstream: readonly PartitionedBuffer[];
  /** The vertex's input buffer (none for a source): a durable one caps the marks (pending-cap.ts). */
  readonly input?: PartitionedBuffer;
  /** The input's claimIdle in ms (Redis); 0 or absent: no other process takes entries over, no cap. */
  readonly claimIdleMs?: number;
  readonly logger: Logger;
  readonly cancelled: () => boolean;
  /** Keep-alive period (ms, default 1000); tests shorten it. */
  readonly keepAliveMs?: number;
}): VertexWatermarks | undefined {
  if (!usesEventTime(options.spec)) return undefined;
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  const caps = options.downstream.length === 0 ? undefined : pendingCapOf(options);
  const publisher =
    options.downstream.length === 0
      ? undefined
      : createWatermarkPublisher({
          vertex: options.vertex.name,
          processor: options.processor,
          targets: options.downstream,
          keepAliveMs,
          logger: options.logger,
          cancelled: options.cancelled,
          ...(caps === undefined ? {} : { cap: caps.cap }),
        });
  const partitions = new Set<number>();
  let refreshing = false;
  /** Re-reads the caps of the partitions published so far; a changed one is sent at once (keepAlive). */
  const refreshCaps = async () => {
    if (publisher === undefined || caps === undefined || refreshing || options.cancelled()) return;
    refreshing = true;
    try {
      const changed = await Promise.all([...partitions].map((partition) => caps.refresh(partition)));
      if (changed.includes(true)) await publisher.keepAlive();
    } finally {
      refreshing = false;
    }
  };
  const timers = [
    publisher === undefined ? undefined : setInterval(() => void publisher.keepAlive(), keepAliveMs / 2),
    caps === undefined ? undefined : setInterval(() => void refreshCaps(), Math.max(MIN_REFRESH_MS, (options.claimIdleMs ?? 0) / CAP_REFRESH_DIVISOR)),
  ];
  for (const timer of timers) timer?.unref();
  return {
    source: (source) => withSourceWatermark(source, { watermark: options.spec.spec.watermark ?? DEFAULT_WATERMARK }),
    publish: async (partition, watermark) => {
      if (publisher === undefined || watermark === undefined) return;
      // The first mark of a partition must not skip a dead worker's entries the refresh timer has not seen yet.
      if (caps !== undefined && !partitions.has(partition)) await caps.refresh(partition);
      partitions.add(partition);
      await publisher.publish(partition, watermark);
    },
    // A source's writer is its own partition: no other worker marks it. Others share their writer.
    hold: async (partition) => {
      if (publisher !== undefined && options.vertex.kind !== "source") await publisher.hold(partition);
    },
    close: () => {
      for (const timer of timers) clearInterval(timer);
    },
  };
}

function pendingCapOf(options: { readonly input?: PartitionedBuffer; readonly claimIdleMs?: number; readonly processor: string; readonly logger: Logger }): PendingCap | undefined {
  const input = suspectInputOf(options.input);
  const claimIdleMs = options.claimIdleMs ?? 0;
  if (input === undefined || claimIdleMs <= 0) return undefined;
  return createPendingCap({ input, consumer: options.processor, claimIdleMs, logger: options.logger });
}

type VertexRead = (request: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;

/**
 * A read that finds its input ended reports the end of time: every writer has declared it will
 * write no more, so no on-time message can follow. A drained memory run (its end of stream
 * cascades) thus still closes and emits its open windows instead of dropping them with the process.
 * Without event time the read is returned as it is.
 */
export function endingTimeAtEndOfStream(watermarks: VertexWatermarks | undefined, read: VertexRead): VertexRead {
  if (watermarks === undefined) return read;
  return async (request, signal) => {
    const batch = await read(request, signal);
    return batch.endOfStream && batch.watermark !== END_OF_TIME ? { ...batch, watermark: END_OF_TIME } : batch;
  };
}

/**
 * Holds each partition's writer downstream before this worker's first read of it: until its first
 * mark, readers downstream would only see other workers' marks of the writer (scale-out, a restart
 * under a new consumer name), and what this worker forwards could be overtaken by them. The end of
 * its input is no exception: the ack of an ended read publishes END_OF_TIME over the hold.
 * Without event time the read is returned as it is.
 */
export function holdingBeforeFirstRead(watermarks: VertexWatermarks | undefined, read: VertexRead): VertexRead {
  if (watermarks === undefined) return read;
  const held = new Set<number>();
  return async (request, signal) => {
    if (!held.has(request.partition)) {
      await watermarks.hold(request.partition);
      held.add(request.partition);
    }
    return read(request, signal);
  };
}
