/**
 * Every Redis key Weir writes is built here, and nowhere else.
 *
 * Keys of one buffer partition share the hash tag `{<buffer>.<p>}` (the buffer's name is
 * `<pipeline>.<vertex>`), so they live in one Redis Cluster slot: a script may touch several of
 * them (the dedup set and the stream, in one atomic write), and different partitions spread
 * over the cluster's nodes. No script ever touches keys of two partitions.
 *
 * ```
 *   <prefix>:{<pipeline>.<vertex>.<p>}          stream: the partition's entries (one field "m")
 *   <prefix>:{<pipeline>.<vertex>.<p>}:dedup-0  set: message ids written in an even window-long bucket of time
 *   <prefix>:{<pipeline>.<vertex>.<p>}:dedup-1  set: … in an odd one (the two take turns, see scripts.ts bufferWrite)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:eos      set: upstream writers that declared end of stream
 *   <prefix>:{<pipeline>.<vertex>.<p>}:length   string: messages not yet acked (framed buffers, frames.ts)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:frame-progress  hash: framed entry id → its acked prefix (frames acked in parts)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:delayed           sorted set: park identity → due time (server ms)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:delayed-messages  hash: park identity → the parked message (encoded)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:delayed-released  sorted set: park identity → expiry (server ms), released ones
 *   <prefix>:{<pipeline>.<vertex>.<p>}:windows    hash: a reduce vertex's window state of the partition, field → JSON
 *   <prefix>:{<pipeline>.<vertex>.<p>}:watermark  string: the watermark committed with that state (ms)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:watermark-view  hash: consumer → its reader's watermark view, JSON (event time only; `weir why`)
 *   <prefix>:{<pipeline>.<vertex>.<p>}:windows-owner  string: the consumer that last loaded that state
 *   <prefix>:{<pipeline>.<vertex>.<p>}:windows-last-commit  string: the last commit of that state that applied
 *
 *   <prefix>:{<tag of S>}:sink-dedup:<S>        sorted set: dedup of the redisStream sink writing to stream S
 *
 *   <prefix>:{<pipeline>}:spec                  string: the fingerprint of the spec whose buffers these are
 *   <prefix>:{<pipeline>}:workers               hash: worker id → registration JSON, `<id>#beat` → server ms (ui/worker-heartbeat.ts)
 *   <prefix>:{<pipeline>}:rate-limit:<vertex>   hash: a vertex's token bucket (flow/redis-token-bucket.ts)
 *   <prefix>:{<pipeline>}:ordered:<vertex>      string: the worker holding an ordered vertex's lease (flow/ordered-lease.ts)
 * ```
 *
 * See https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags for
 * the hash-tag rule implemented by {@link hashTagOf}.
 */
import { BufferError } from "../buffer-error.js";

/** The prefix of every key when the spec does not set `buffer.keyPrefix`. */
export const DEFAULT_KEY_PREFIX = "weir";

/** The keys of one buffer partition; all carry the same hash tag. */
export interface PartitionKeys {
  /** `{<buffer>.<p>}`, the hash tag shared by every key below. */
  readonly tag: string;
  /** The partition's stream. */
  readonly stream: string;
  /**
   * The two sets of message ids written within the dedup window, of even and odd window-long
   * buckets of server time (scripts.ts `bufferWrite`). Before issue 12, one sorted set `:dedup`.
   */
  readonly dedupSets: readonly [string, string];
  /** Set of upstream writers that declared end of stream. */
  readonly eos: string;
  /** Messages in the stream's framed and plain data entries not yet acked (a framed buffer's length, scripts.ts `frameWrite`). */
  readonly length: string;
  /** Hash: framed entry id → how many of its first messages are acked (a frame acked in parts, frames.ts). */
  readonly frameProgress: string;
  /** Sorted set of parked messages by due time (flow/delayed-redis-store.ts). */
  readonly delayed: string;
  /** Hash of the parked messages by park identity. */
  readonly delayedMessages: string;
  /** Sorted set of park identities moved back into the stream within the dedup window. */
  readonly delayedReleased: string;
  /** Hash of a reduce vertex's open windows read from this partition (reduce/redis-window-store.ts). */
  readonly windows: string;
  /** The watermark committed with {@link windows}, in ms, as a decimal string. */
  readonly watermark: string;
  /**
   * Each consumer's watermark view of this partition (buffer/watermark-view.ts `WatermarkViewState`
   * as JSON), written when its reads meet marks, so `weir why` and `weir ui` can see it.
   */
  readonly watermarkView: string;
  /** The consumer that last loaded {@link windows}: only its commits apply (a worker taken over must not write). */
  readonly windowsOwner: string;
  /** Which commit of {@link windows} applied last: a commit sent again after its reply was lost is recognised. */
  readonly windowsLastCommit: string;
}

/**
 * The keys of partition `partition` of buffer `bufferName` (`<pipeline>.<vertex>`).
 *
 * @example
 * ```ts
 * partitionKeys("weir", "demo.out", 2).stream; // "weir:{demo.out.2}"
 * ```
 */
export function partitionKeys(keyPrefix: string, bufferName: string, partition: number): PartitionKeys {
  const tag = `{${bufferName}.${partition}}`;
  const stream = `${keyPrefix}:${tag}`;
  return {
    tag,
    stream,
    dedupSets: [`${stream}:dedup-0`, `${stream}:dedup-1`],
    eos: `${stream}:eos`,
    length: `${stream}:length`,
    frameProgress: `${stream}:frame-progress`,
    delayed: `${stream}:delayed`,
    delayedMessages: `${stream}:delayed-messages`,
    delayedReleased: `${stream}:delayed-released`,
    windows: `${stream}:windows`,
    watermark: `${stream}:watermark`,
    watermarkView: `${stream}:watermark-view`,
    windowsOwner: `${stream}:windows-owner`,
    windowsLastCommit: `${stream}:windows-last-commit`,
  };
}

/**
 * Checks a key prefix or buffer name before it goes into keys: no braces (they would move the
 * hash tag, so one partition's keys could land in different slots) and no whitespace.
 *
 * @throws {BufferError} `BUFFER_INVALID_OPTIONS`.
 */
export function assertKeyPart(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0 || /[{}\s]/.test(value)) {
    throw new BufferError(
      "BUFFER_INVALID_OPTIONS",
      `${what} must be a non-empty string without spaces, '{' or '}' (it becomes part of Redis keys and their cluster hash tag), got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * The part of `key` that Redis Cluster hashes: the text between the first `{` and the next `}`
 * when that is non-empty, otherwise the whole key.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf("{");
  if (open < 0) return key;
  const close = key.indexOf("}", open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * The dedup set of the `redisStream` sink writing to `stream`: a key in the same cluster slot as
 * `stream`, so the idempotent write script touches one slot only.
 *
 * @throws {BufferError} `BUFFER_INVALID_OPTIONS` for a stream name whose slot cannot be shared by
 * another key name (braces without a proper hash tag, such as `a{}b`).
 */
export function sinkDedupKey(keyPrefix: string, stream: string): string {
  const tag = hashTagOf(stream);
  if (tag === stream && /[{}]/.test(stream)) {
    throw new BufferError(
      "BUFFER_INVALID_OPTIONS",
      `redisStream sink: stream name ${JSON.stringify(stream)} has braces but no usable hash tag, so no dedup key can share its cluster slot; use a name without braces or with a tag such as "orders:{eu}"`,
    );
  }
  return `${keyPrefix}:{${tag}}:sink-dedup:${stream}`;
}

/**
 * Where a pipeline's buffers record which spec they belong to (pipeline/spec-fingerprint.ts), so a
 * second deployment with the same name and keyPrefix but another graph refuses to start.
 *
 * @example
 * ```ts
 * specKey("weir", "demo"); // "weir:{demo}:spec"
 * ```
 */
export function specKey(keyPrefix: string, pipeline: string): string {
  return `${keyPrefix}:{${pipeline}}:spec`;
}

/**
 * The hash where a pipeline's worker processes register and heartbeat (`weir ui` reads it).
 *
 * @example
 * ```ts
 * workersKey("weir", "demo"); // "weir:{demo}:workers"
 * ```
 */
export function workersKey(keyPrefix: string, pipeline: string): string {
  return `${keyPrefix}:{${pipeline}}:workers`;
}

/**
 * The token bucket of a vertex's `limits.rateLimit` with a redis store, shared by its workers.
 *
 * @example
 * ```ts
 * rateLimitKey("weir", "demo", "out"); // "weir:{demo}:rate-limit:out"
 * ```
 */
export function rateLimitKey(keyPrefix: string, pipeline: string, vertex: string): string {
  return `${keyPrefix}:{${pipeline}}:rate-limit:${vertex}`;
}

/**
 * The lease of an ordered vertex on Redis (flow/ordered-lease.ts): the consumer that runs it, so
 * one worker at a time does. Hash tag of the pipeline, like its spec key.
 *
 * @example
 * ```ts
 * orderedLeaseKey("weir", "demo", "out"); // "weir:{demo}:ordered:out"
 * ```
 */
export function orderedLeaseKey(keyPrefix: string, pipeline: string, vertex: string): string {
  return `${keyPrefix}:{${pipeline}}:ordered:${vertex}`;
}
