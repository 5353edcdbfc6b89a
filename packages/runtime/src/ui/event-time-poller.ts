/**
 * `weir ui`'s event time: every vertex's watermarks, holders and open windows read from Redis
 * (redis-event-time.ts) once a second, on a connection of its own named like the workers
 * poller's (`weir reset` does not take it for a worker). Nothing for a pipeline without event time.
 */
import { RedisConnection } from "../buffer/index.js";
import { bufferServerTls } from "../pipeline/buffer-factory.js";
import { usesEventTime } from "../pipeline/uses-event-time.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { VertexEventTime } from "./dashboard-types.js";
import { readVertexEventTime } from "./redis-event-time.js";
import { SERVER_TIME_LUA } from "./worker-record.js";
import { readPeriodically } from "./periodic-read.js";

export interface EventTimePoller {
  current(): readonly VertexEventTime[];
  /** Why the last poll failed, or null. */
  error(): string | null;
  close(): Promise<void>;
}

export function startEventTimePoller(spec: PipelineSpec, intervalMs = 1_000): EventTimePoller {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis" || !usesEventTime(spec)) return { current: () => [], error: () => null, close: async () => undefined };
  const tls = bufferServerTls(spec);
  const connection = new RedisConnection({ url: buffer.url, cluster: buffer.cluster, name: `weir-ui:${spec.metadata.name}`, maxRetriesPerRequest: 1, ...(tls === undefined ? {} : { tls: tls.tls }) });
  const vertices = spec.spec.vertices.filter((vertex) => vertex.kind !== "source").map((vertex) => vertex.name);
  const read = async (): Promise<readonly VertexEventTime[]> => {
    const now = Number(await connection.client.eval(SERVER_TIME_LUA, 0));
    const details = await Promise.all(vertices.map((vertex) => readVertexEventTime(connection.client, spec, vertex, now)));
    // The page needs the summary, not every consumer's stored view.
    return details.map((detail) => ({ vertex: detail.vertex, partitions: detail.partitions.map(({ views: _views, committed: _committed, expectedWriters: _writers, ...partition }) => partition) }));
  };
  const polled = readPeriodically(read, [] as readonly VertexEventTime[], intervalMs);
  return {
    current: polled.current,
    error: polled.error,
    async close() {
      polled.stop();
      await connection.close();
    },
  };
}
