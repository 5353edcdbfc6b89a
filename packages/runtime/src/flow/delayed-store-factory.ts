/**
 * The {@link DelayedStore} of a vertex's input, on the pipeline's buffer: Redis keys beside the
 * partition's stream, or timers in the process for the memory buffer.
 */
import { bufferCapacity } from "../buffer/partitioned-buffer.js";
import type { BufferContext } from "../pipeline/buffer-factory.js";
import { vertexBufferName } from "../pipeline/buffer-factory.js";
import { effectiveLimits, type VertexSpec } from "../spec/pipeline-spec.js";
import { createMemoryDelayedStore } from "./delayed-memory-store.js";
import { createRedisDelayedStore } from "./delayed-redis-store.js";
import type { DelayedStore } from "./delayed-store.js";

export function createDelayedStore(context: BufferContext, vertex: VertexSpec): DelayedStore {
  const { spec } = context;
  const buffer = spec.spec.buffer;
  if (buffer.type === "memory" || context.connection === undefined) return createMemoryDelayedStore(vertex.partitions);
  const limits = effectiveLimits(spec, vertex);
  return createRedisDelayedStore({
    connection: context.connection,
    keyPrefix: buffer.keyPrefix,
    bufferName: vertexBufferName(spec, vertex.name),
    partitions: vertex.partitions,
    dedupWindowMs: buffer.dedupWindow,
    capacity: bufferCapacity(limits.bufferMaxLength, limits.bufferUsageLimit),
  });
}
