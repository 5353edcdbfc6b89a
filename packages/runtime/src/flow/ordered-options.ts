/**
 * What `createPipeline` needs for a vertex under `ordered` (issue #15 part 2): the key-order
 * settings of the ordered sink and the forwarder's ordered mapping, and on Redis the vertex's lease.
 */
import type { PartitionedBuffer } from "../buffer/index.js";
import { RedisConnection } from "../buffer/redis/redis-connection.js";
import { bufferServerTls } from "../pipeline/buffer-factory.js";
import type { Logger } from "../observability/logger.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import { effectiveOrdered, type PipelineSpec, type VertexSpec } from "../spec/pipeline-spec.js";
import { retryPolicyFor } from "../pipeline/retry-policy.js";
import { orderedLeaseKey } from "../buffer/redis/keys.js";
import { adoptPendingEntries, holdOrderedLease } from "./ordered-lease.js";
import type { KeyOrderOptions } from "./ordered-sink.js";
import { isReduceVertex } from "../pipeline/uses-event-time.js";

/**
 * `undefined` when the vertex is not ordered. Held-back messages are counted in the vertex's
 * `heldBack` (run summary, `weir_ordered_held_back_total`) and logged at debug, one line per
 * attempt that held any back: they are retried, never lost, and each ends ok, fallback or
 * dropped like any other message (counted there).
 *
 * @example
 * ```ts
 * const order = keyOrderOf(spec, vertex, logger, counts);
 * const sink = order === undefined ? write : orderSinkFunction(write, order);
 * ```
 */
export function keyOrderOf(spec: PipelineSpec, vertex: VertexSpec, logger: Logger, counts: VertexCounts): KeyOrderOptions | undefined {
  if (!effectiveOrdered(spec, vertex)) return undefined;
  const log = logger.child({ vertex: vertex.name });
  return {
    retry: retryPolicyFor(vertex),
    onHeldBack: (count, attempt) => {
      counts.heldBack += count;
      log.debug("messages held back behind a failed message of their key (ordered); retried in order", { count, attempt });
    },
  };
}

/**
 * Under `ordered`, and for a reduce vertex, on a Redis buffer: waits for the vertex's lease (flow/ordered-lease.ts), then
 * adopts the pending entries dead holders left, before the vertex starts. Resolves with the
 * lease's release, `null` when the vertex needs no lease, `undefined` when the wait was cancelled.
 *
 * @example
 * ```ts
 * const release = await leaseOrderedVertex({ spec, vertex, buffer: () => bufferOf(vertex.name), consumer, logger, cancelled, onLost });
 * ```
 */
export async function leaseOrderedVertex(options: {
  readonly spec: PipelineSpec;
  readonly vertex: VertexSpec;
  readonly buffer: () => PartitionedBuffer;
  readonly consumer: string;
  readonly logger: Logger;
  readonly cancelled: () => boolean;
  readonly onLost: (reason: string) => void;
}): Promise<(() => Promise<void>) | null | undefined> {
  const { spec, vertex } = options;
  const buffer = spec.spec.buffer;
  // A reduce vertex keeps its windows in memory between commits: one worker at a time too (issue #13).
  if (buffer.type !== "redis" || !(effectiveOrdered(spec, vertex) || isReduceVertex(vertex))) return null;
  const log = options.logger.child({ vertex: vertex.name });
  // Its own connection, closed with the lease: the buffers' connection closes at the same time as
  // the release runs, and a release that cannot reach Redis leaves the standby waiting a ttl.
  const tls = bufferServerTls(spec);
  const connection = new RedisConnection({
    url: buffer.url,
    cluster: buffer.cluster,
    // Not `weir:<pipeline>`: `weir reset` counts those as workers (it finds the buffers' connection anyway).
    name: `weir-lease:${spec.metadata.name}`,
    ...(tls === undefined ? {} : { tls: tls.tls }),
    logger: log,
  });
  const lease = await holdOrderedLease({
    client: connection.client,
    key: orderedLeaseKey(buffer.keyPrefix, spec.metadata.name, vertex.name),
    vertex: vertex.name,
    consumer: options.consumer,
    ttlMs: Math.max(1_000, buffer.claimIdle),
    logger: log,
    cancelled: options.cancelled,
    onLost: options.onLost,
  });
  if (lease === undefined) {
    await connection.close();
    return undefined;
  }
  const adopted = await adoptPendingEntries({ client: connection.client, buffer: options.buffer(), keyPrefix: buffer.keyPrefix, consumer: options.consumer });
  if (adopted > 0) log.warn("adopted the pending entries of the ordered vertex's previous worker; they go first", { count: adopted });
  return async () => {
    await lease.release();
    await connection.close();
  };
}
