/**
 * The dashboard's event time in `weir run --ui` (issue #13): what this process knows, from
 * `Pipeline.watermarks()` (each partition's committed watermark) and `onEventTime` (a reduce
 * vertex's open windows). Every writer of an edge runs here too, so what holds partition q of V
 * back is the upstream writer `U/p` with the lowest committed watermark, and the processor is this
 * one. "Since" is when this tracker first saw the value. Open windows are counted here; `weir ui`
 * lists them from Redis.
 */
import type { EventTimeUpdate } from "../pipeline/create-pipeline.js";
import { watermarkBufferOptions } from "../pipeline/buffer-factory.js";
import { isReduceVertex, usesEventTime } from "../pipeline/uses-event-time.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { PartitionEventTime, VertexEventTime, WatermarkHolder } from "./dashboard-types.js";
import { lagOf } from "./redis-event-time.js";

type Watermarks = Readonly<Record<string, Readonly<Record<number, number>>>>;

export interface EventTimeTracker {
  /** Feed it `PipelineOptions.onEventTime`. */
  observe(vertex: string, partition: number, update: EventTimeUpdate): void;
  /** The views of the vertices this process runs, at `now` (ms since the Unix epoch). */
  sample(watermarks: Watermarks, now: number): VertexEventTime[];
}

export function createEventTimeTracker(spec: PipelineSpec, processor: () => string | null, vertices?: readonly string[]): EventTimeTracker {
  const runs = new Set(vertices ?? spec.spec.vertices.map((vertex) => vertex.name));
  const shown = usesEventTime(spec) ? spec.spec.vertices.filter((vertex) => runs.has(vertex.name)) : [];
  const openWindows = new Map<string, number>();
  const seen = new Map<string, { value: number; since: number }>();

  /** When `key` first had `value` (the tracker's clock): "since". */
  const sinceOf = (key: string, value: number, now: number): number => {
    const held = seen.get(key);
    if (held !== undefined && held.value === value) return held.since;
    seen.set(key, { value, since: now });
    return now;
  };

  const holder = (vertex: string, watermarks: Watermarks, now: number): WatermarkHolder | null => {
    let low: WatermarkHolder | null = null;
    for (const writer of watermarkBufferOptions(spec, vertex).watermarkWriters ?? []) {
      const [upstream, partition] = [writer.slice(0, writer.lastIndexOf("/")), Number(writer.slice(writer.lastIndexOf("/") + 1))];
      const value = watermarks[upstream]?.[partition];
      const candidate: WatermarkHolder =
        value === undefined
          ? { writer, processor: null, watermark: null, since: null, live: runs.has(upstream) }
          : { writer, processor: processor(), watermark: value, since: sinceOf(`w:${writer}`, value, now), live: true };
      if (candidate.watermark === null) return candidate;
      if (low === null || candidate.watermark < low.watermark!) low = candidate;
    }
    return low;
  };

  return {
    observe(vertex, partition, update) {
      if (update.openWindows !== undefined) openWindows.set(`${vertex}/${partition}`, update.openWindows);
    },
    sample(watermarks, now) {
      return shown.map((vertex) => {
        const heldBy = vertex.kind === "source" ? null : holder(vertex.name, watermarks, now);
        const partitions = Array.from({ length: vertex.partitions }, (_, partition): PartitionEventTime => {
          const watermark = watermarks[vertex.name]?.[partition] ?? null;
          return {
            partition,
            watermark,
            lagMs: lagOf(watermark, now),
            since: watermark === null ? null : sinceOf(`v:${vertex.name}/${partition}`, watermark, now),
            heldBy,
            openWindows: isReduceVertex(vertex) ? (openWindows.get(`${vertex.name}/${partition}`) ?? 0) : null,
            windows: [],
            reader: null,
          };
        });
        return { vertex: vertex.name, partitions };
      });
    },
  };
}
