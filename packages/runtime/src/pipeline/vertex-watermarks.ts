/**
 * A vertex's part in event time (issue #13): its source reads carry watermarks, and each committed
 * epoch's watermark is published into the buffers it writes, as in-band marks after its data.
 *
 *   source.read ──withSourceWatermark──▶ epoch's watermark ──ack──▶ publish(p, wm) ──▶ marks downstream
 *
 * Absent (`undefined`) for pipelines without event time: they publish nothing and pay nothing.
 */
import type { PartitionedBuffer } from "../buffer/index.js";
import type { SourceConnector } from "../connectors/source-connector.js";
import type { Logger } from "../observability/logger.js";
import type { PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";
import { DEFAULT_WATERMARK } from "../spec/reduce-spec.js";
import { withSourceWatermark } from "../time/source-watermark.js";
import { usesEventTime } from "./uses-event-time.js";
import { createWatermarkPublisher } from "./watermark-publisher.js";

export interface VertexWatermarks {
  /** The vertex's source with watermarks on its reads (sources only; others pass through). */
  source(source: SourceConnector): SourceConnector;
  /** Publishes input partition `partition`'s committed watermark downstream (no-op without downstream). */
  publish(partition: number, watermark: number | undefined): Promise<void>;
  close(): void;
}

// Well below the readers' processorTimeoutMs (Redis: claimIdle, 30 s by default), so a live but
// idle processor is never taken for dead.
const KEEP_ALIVE_MS = 1_000;

export function vertexWatermarks(options: {
  readonly spec: PipelineSpec;
  readonly vertex: VertexSpec;
  readonly processor: string;
  readonly downstream: readonly PartitionedBuffer[];
  readonly logger: Logger;
  readonly cancelled: () => boolean;
}): VertexWatermarks | undefined {
  if (!usesEventTime(options.spec)) return undefined;
  const publisher =
    options.downstream.length === 0
      ? undefined
      : createWatermarkPublisher({ vertex: options.vertex.name, processor: options.processor, targets: options.downstream, keepAliveMs: KEEP_ALIVE_MS, logger: options.logger, cancelled: options.cancelled });
  const timer = publisher === undefined ? undefined : setInterval(() => void publisher.keepAlive(), KEEP_ALIVE_MS / 2);
  timer?.unref();
  return {
    source: (source) => withSourceWatermark(source, { watermark: options.spec.spec.watermark ?? DEFAULT_WATERMARK }),
    publish: async (partition, watermark) => {
      if (publisher !== undefined && watermark !== undefined) await publisher.publish(partition, watermark);
    },
    close: () => clearInterval(timer),
  };
}
