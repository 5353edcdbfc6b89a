/**
 * A vertex's event time as Redis holds it (issue #13), for `weir why` and `weir ui`: per input
 * partition, each reading consumer's watermark view (`:watermark-view`, written by the Redis
 * buffer when its reads meet marks), the watermark a reduce vertex committed with its windows
 * (`:watermark`) and its open windows (`:windows`). It runs nothing and writes nothing.
 *
 *   :watermark-view  consumer → view ──▶ freshest view ──holderOf──▶ writer/processor holding it, since when
 *   :watermark       committed (reduce)
 *   :windows         HLEN + the first windows' keys, start, end (HSCAN; values can be large)
 */
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { partitionKeys } from "../buffer/redis/keys.js";
import type { WatermarkViewState } from "../buffer/watermark-view.js";
import { vertexBufferName, watermarkBufferOptions } from "../pipeline/buffer-factory.js";
import { isReduceVertex } from "../pipeline/uses-event-time.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { END_OF_TIME } from "../time/watermark.js";
import type { OpenWindowView, PartitionEventTime, VertexEventTime } from "./dashboard-types.js";
import { holderOf } from "./watermark-holder.js";

/** How many open windows are listed per partition (all are counted). */
export const LISTED_WINDOWS = 20;

/** One consumer's view of a partition, as stored. */
export interface StoredView {
  readonly consumer: string;
  readonly state: WatermarkViewState;
}

/** A partition's event time with everything Redis holds about it (`weir why` prints all of it). */
export interface PartitionEventTimeDetail extends PartitionEventTime {
  /** Every consumer's stored view, freshest first (a dead consumer's stays until `weir reset`). */
  readonly views: readonly StoredView[];
  /** The watermark a reduce vertex committed with its window state; null for other vertices. */
  readonly committed: number | null;
  /** The writers the partition's readers wait for (`<upstream>/<p>`). */
  readonly expectedWriters: readonly string[];
}

export interface VertexEventTimeDetail extends VertexEventTime {
  readonly partitions: readonly PartitionEventTimeDetail[];
}

/**
 * Reads vertex `vertexName`'s event time (a vertex with an input buffer; a source has none).
 * `now`: ms since the Unix epoch (Redis server time is best), for the lag.
 */
export async function readVertexEventTime(client: RedisClient, spec: PipelineSpec, vertexName: string, now: number): Promise<VertexEventTimeDetail> {
  const buffer = spec.spec.buffer;
  const vertex = spec.spec.vertices.find((candidate) => candidate.name === vertexName);
  if (buffer.type !== "redis" || vertex === undefined || vertex.kind === "source") return { vertex: vertexName, partitions: [] };
  const reduce = isReduceVertex(vertex);
  const expectedWriters = watermarkBufferOptions(spec, vertexName).watermarkWriters ?? [];
  const partitions = await Promise.all(
    Array.from({ length: vertex.partitions }, async (_, partition): Promise<PartitionEventTimeDetail> => {
      const keys = partitionKeys(buffer.keyPrefix, vertexBufferName(spec, vertexName), partition);
      const [stored, committedText, windows] = await Promise.all([
        client.hgetall(keys.watermarkView),
        reduce ? client.get(keys.watermark) : Promise.resolve(null),
        reduce ? openWindowsOf(client, keys.windows) : Promise.resolve(null),
      ]);
      const views = parseViews(stored);
      const freshest = views[0];
      const committed = committedText === null ? null : Number(committedText);
      const watermark = freshest?.state.watermark ?? committed;
      return {
        partition,
        watermark,
        lagMs: lagOf(watermark, now),
        since: freshest?.state.since ?? null,
        heldBy: freshest === undefined ? (expectedWriters.length === 0 ? null : holderOf({ watermark: undefined, since: undefined, at: undefined, writers: [] }, expectedWriters)) : holderOf(freshest.state, expectedWriters),
        openWindows: windows?.count ?? null,
        windows: windows?.listed ?? [],
        reader: freshest?.consumer ?? null,
        views,
        committed: Number.isFinite(committed) ? committed : null,
        expectedWriters,
      };
    }),
  );
  return { vertex: vertexName, partitions };
}

/** now − watermark, never below 0; 0 once every writer ended. */
export function lagOf(watermark: number | null | undefined, now: number): number | null {
  if (watermark === null || watermark === undefined) return null;
  if (watermark >= END_OF_TIME) return 0;
  return Math.max(0, now - watermark);
}

function parseViews(stored: Record<string, string>): StoredView[] {
  const views: StoredView[] = [];
  for (const [consumer, json] of Object.entries(stored)) {
    try {
      views.push({ consumer, state: JSON.parse(json) as WatermarkViewState });
    } catch {
      // Not Weir's JSON: nothing to show for that consumer.
    }
  }
  return views.sort((a, b) => (b.state.at ?? 0) - (a.state.at ?? 0));
}

async function openWindowsOf(client: RedisClient, key: string): Promise<{ count: number; listed: OpenWindowView[] }> {
  const [count, [, flat]] = await Promise.all([client.hlen(key), client.hscan(key, "0", "COUNT", LISTED_WINDOWS)]);
  const listed: OpenWindowView[] = [];
  for (let i = 1; i < flat.length && listed.length < LISTED_WINDOWS; i += 2) {
    const window = parseWindow(flat[i]!);
    if (window !== undefined) listed.push(window);
  }
  return { count, listed: listed.sort((a, b) => a.end - b.end || a.start - b.start) };
}

/** The keys and range of a stored window (reduce/window-content.ts); its content is not needed here. */
function parseWindow(json: string): OpenWindowView | undefined {
  try {
    const value = JSON.parse(json) as { keys?: unknown; start?: unknown; end?: unknown };
    if (!Array.isArray(value.keys) || typeof value.start !== "number" || typeof value.end !== "number") return undefined;
    return { keys: value.keys.map(String), start: value.start, end: value.end };
  } catch {
    return undefined;
  }
}
