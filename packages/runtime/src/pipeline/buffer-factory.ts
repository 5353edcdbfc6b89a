/**
 * The input buffer of a vertex, as the spec's `buffer` says: in-process memory, or one Redis
 * stream per partition. Every process that runs a pipeline (or a tool such as `weir dlq replay`)
 * builds the same buffer from the same spec, so they meet on the same keys.
 */
import { MemoryBuffer, RedisConnection, RedisStreamBuffer, type PartitionedBuffer } from "../buffer/index.js";
import type { Logger } from "../observability/logger.js";
import { effectiveLimits, type PipelineSpec } from "../spec/pipeline-spec.js";

/** What the buffers of one process share: one Redis connection for all of them. */
export interface BufferContext {
  readonly spec: PipelineSpec;
  readonly connection?: RedisConnection;
}

export function openBufferContext(spec: PipelineSpec, logger?: Logger): BufferContext {
  const buffer = spec.spec.buffer;
  if (buffer.type === "memory") return { spec };
  return {
    spec,
    connection: new RedisConnection({
      url: buffer.url,
      cluster: buffer.cluster,
      name: `weir:${spec.metadata.name}`,
      ...(logger === undefined ? {} : { logger }),
    }),
  };
}

export function createVertexBuffer(context: BufferContext, vertexName: string): PartitionedBuffer {
  const { spec } = context;
  const vertex = spec.spec.vertices.find((candidate) => candidate.name === vertexName);
  if (vertex === undefined) throw new Error(`no vertex '${vertexName}' in pipeline '${spec.metadata.name}'`);
  const limits = effectiveLimits(spec, vertex);
  const options = {
    name: `${spec.metadata.name}.${vertex.name}`,
    partitions: vertex.partitions,
    maxLength: limits.bufferMaxLength,
    usageLimit: limits.bufferUsageLimit,
    upstreams: spec.spec.edges.filter((edge) => edge.to === vertex.name).map((edge) => edge.from),
  };
  const buffer = spec.spec.buffer;
  if (buffer.type === "memory") return new MemoryBuffer(options);
  return new RedisStreamBuffer({
    ...options,
    connection: context.connection!,
    keyPrefix: buffer.keyPrefix,
    dedupWindowMs: buffer.dedupWindow,
  });
}

export async function closeBufferContext(context: BufferContext): Promise<void> {
  await context.connection?.close();
}
