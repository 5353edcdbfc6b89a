/**
 * The Redis keys of a pipeline's buffers, computed from its spec (never found by SCAN, which
 * would need every node of a cluster and could match another pipeline's keys).
 */
import { orderedLeaseKey, partitionKeys, rateLimitKey, specKey, workersKey } from "../buffer/redis/keys.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { vertexBufferName } from "./buffer-factory.js";

export interface PipelineBufferKeys {
  /** Every partition's stream. */
  readonly streams: readonly string[];
  /** The streams with their dedup, end-of-stream and delayed-redelivery keys, the spec fingerprint, the workers hash (`weir ui`), the reduce vertices' window state and watermarks, the readers' watermark views (`weir why`), the rate limits' buckets and the ordered vertices' leases. */
  readonly all: readonly string[];
}

/** The keys of every input buffer (each vertex but the sources) of a pipeline on a Redis buffer. */
export function pipelineBufferKeys(spec: PipelineSpec): PipelineBufferKeys {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis") return { streams: [], all: [] };
  const streams: string[] = [];
  const all: string[] = [];
  for (const vertex of spec.spec.vertices) {
    if (vertex.kind === "source") continue;
    for (let partition = 0; partition < vertex.partitions; partition++) {
      const keys = partitionKeys(buffer.keyPrefix, vertexBufferName(spec, vertex.name), partition);
      streams.push(keys.stream);
      // A reduce vertex's window state and watermark (any vertex may have been one in an earlier run);
      // `:dedup`, the dedup sorted set of versions before issue 12, in case an older run left one.
      all.push(keys.stream, ...keys.dedupSets, `${keys.stream}:dedup`, keys.eos, keys.length, keys.frameProgress, keys.delayed, keys.delayedMessages, keys.delayedReleased, keys.windows, keys.watermark, keys.watermarkView, keys.windowsOwner, keys.windowsLastCommit);
    }
  }
  all.push(specKey(buffer.keyPrefix, spec.metadata.name), workersKey(buffer.keyPrefix, spec.metadata.name));
  // Rate limits' buckets (any vertex may have one): a reset makes the next run ramp up again.
  for (const vertex of spec.spec.vertices) all.push(rateLimitKey(buffer.keyPrefix, spec.metadata.name, vertex.name));
  // Ordered vertices' leases (any vertex may have been ordered in an earlier run): a SIGKILLed
  // holder's lease would keep the next run's worker standing by until it expires.
  for (const vertex of spec.spec.vertices) all.push(orderedLeaseKey(buffer.keyPrefix, spec.metadata.name, vertex.name));
  return { streams, all };
}
