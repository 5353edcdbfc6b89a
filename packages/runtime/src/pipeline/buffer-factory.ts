/**
 * The input buffer of a vertex, as the spec's `buffer` says: in-process memory, or one Redis
 * stream per partition. Every process that runs a pipeline (or a tool such as `weir dlq replay`)
 * builds the same buffer from the same spec, so they meet on the same keys.
 */
import { isReduceVertex, usesEventTime } from "./uses-event-time.js";
import { MemoryBuffer, RedisConnection, RedisStreamBuffer, type PartitionedBuffer } from "../buffer/index.js";
import type { ServerTls } from "../buffer/redis/server-tls.js";
import type { Logger } from "../observability/logger.js";
import { effectiveLimits, type PipelineSpec } from "../spec/pipeline-spec.js";
import { readRedisTlsFiles } from "../spec/tls-files.js";

/** What the buffers of one process share: one Redis connection for all of them. */
export interface BufferContext {
  readonly spec: PipelineSpec;
  readonly connection?: RedisConnection;
  /**
   * The redis buffer's TLS settings (`buffer.tls`, files read), which every rediss:// connection
   * to the buffer's server uses too: bullmq queues, redisStream connectors (server-tls.ts).
   */
  readonly tls?: ServerTls;
}

/**
 * Opens the buffers' shared Redis connection (none for the memory buffer).
 *
 * @throws {SpecError} when a `buffer.tls` file cannot be read or is not PEM (named by field and path).
 */
export function openBufferContext(spec: PipelineSpec, logger?: Logger): BufferContext {
  const buffer = spec.spec.buffer;
  if (buffer.type === "memory") return { spec };
  const tls = bufferServerTls(spec);
  return {
    spec,
    connection: new RedisConnection({
      url: buffer.url,
      cluster: buffer.cluster,
      name: bufferConnectionName(spec),
      urlField: "spec.buffer.url",
      ...(tls === undefined ? {} : { tls: tls.tls }),
      ...(logger === undefined ? {} : { logger }),
    }),
    ...(tls === undefined ? {} : { tls }),
  };
}

/**
 * The redis buffer's TLS settings with their files read, for connections to the buffer's server;
 * `undefined` without `buffer.tls` (or a redis:// URL, where it does not apply).
 *
 * @throws {SpecError} when a `buffer.tls` file cannot be read or is not PEM.
 */
export function bufferServerTls(spec: PipelineSpec): ServerTls | undefined {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis" || buffer.tls === undefined || !buffer.url.startsWith("rediss://")) return undefined;
  return { url: buffer.url, tls: readRedisTlsFiles(buffer.tls) };
}

/**
 * The input buffer of `vertexName`. `writer: "replay"` opens it for `weir dlq replay`, which is
 * none of the vertex's upstreams: its writes are not refused once every upstream declared end of
 * stream (the markers stay, so the vertex's next run reads the replayed entries, then ends).
 */
export function createVertexBuffer(context: BufferContext, vertexName: string, writer: "upstream" | "replay" = "upstream"): PartitionedBuffer {
  const { spec } = context;
  const vertex = spec.spec.vertices.find((candidate) => candidate.name === vertexName);
  if (vertex === undefined) throw new Error(`no vertex '${vertexName}' in pipeline '${spec.metadata.name}'`);
  const limits = effectiveLimits(spec, vertex);
  const options = {
    name: vertexBufferName(spec, vertex.name),
    partitions: vertex.partitions,
    maxLength: limits.bufferMaxLength,
    usageLimit: limits.bufferUsageLimit,
    upstreams: writer === "replay" ? [] : spec.spec.edges.filter((edge) => edge.to === vertex.name).map((edge) => edge.from),
    ...watermarkBufferOptions(spec, vertex.name),
  };
  const buffer = spec.spec.buffer;
  if (buffer.type === "memory") return new MemoryBuffer(options);
  return new RedisStreamBuffer({
    ...options,
    connection: context.connection!,
    keyPrefix: buffer.keyPrefix,
    dedupWindowMs: buffer.dedupWindow,
    // One stream entry per partition-write unless the spec says `framed: false` (issue 12). A reduce
    // vertex's window commit acks its input's entries in Lua (reduce/window-commit-script.ts), one
    // entry per message: its input stays unframed.
    framed: buffer.framed !== false && !isReduceVertex(vertex),
    maxDeliveries: limits.maxDeliveries,
  });
}

/**
 * The watermark options of a vertex's input buffer (issue #13): the writers whose marks its reads
 * expect — for each edge U→V, `U/0 … U/(P_U − 1)`, one per input partition of U, since each of
 * U's partition readers publishes its own watermark — and, on Redis, `processorTimeoutMs` =
 * `claimIdle`: a process silent that long is taken for dead there too. Empty for a pipeline
 * without event time (no groupBy, no spec.watermark), so its buffers stay exactly as before.
 */
export function watermarkBufferOptions(
  spec: PipelineSpec,
  vertexName: string,
): { readonly watermarkWriters?: readonly string[]; readonly processorTimeoutMs?: number } {
  if (!usesEventTime(spec)) return {};
  const watermarkWriters: string[] = [];
  for (const edge of spec.spec.edges) {
    if (edge.to !== vertexName) continue;
    const upstream = spec.spec.vertices.find((candidate) => candidate.name === edge.from);
    for (let p = 0; p < (upstream?.partitions ?? 0); p++) watermarkWriters.push(`${edge.from}/${p}`);
  }
  const buffer = spec.spec.buffer;
  return buffer.type === "redis" ? { watermarkWriters, processorTimeoutMs: buffer.claimIdle } : { watermarkWriters };
}

export async function closeBufferContext(context: BufferContext): Promise<void> {
  await context.connection?.close();
}

/** The name of a vertex's input buffer, `<pipeline>.<vertex>`: its consumer group, and the core of its keys. */
export function vertexBufferName(spec: PipelineSpec, vertexName: string): string {
  return `${spec.metadata.name}.${vertexName}`;
}

/**
 * The name prefix of a pipeline's buffer connections in CLIENT LIST (`<name>:cmd`, `<name>:block-<n>`),
 * by which `weir reset` tells that workers still run.
 */
export function bufferConnectionName(spec: PipelineSpec): string {
  return `weir:${spec.metadata.name}`;
}
