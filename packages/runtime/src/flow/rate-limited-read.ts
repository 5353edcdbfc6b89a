/**
 * The hook between a vertex's I/O and its rate limit: {@link createVertexRateLimit} builds the
 * limiter the spec asks for, {@link withRateLimit} puts it in front of the vertex's reads, and
 * {@link VertexRateLimit.observe} lets the adaptive mode see the sink's (or udf's) attempts.
 */
import type { ReadBatchInput, ReadBatchOutput, SinkFunction } from "@weir/actors";
import { rateLimitKey } from "../buffer/redis/keys.js";
import type { RedisConnection } from "../buffer/redis/redis-connection.js";
import type { SinkConnector } from "../connectors/sink-connector.js";
import { ConnectorError } from "../connectors/connector-error.js";
import type { Logger } from "../observability/logger.js";
import type { Limits, PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";
import { AdaptiveCeiling, observeAttempts, observeConnectorAttempts } from "./rate-adaptive.js";
import { RateLimiter } from "./rate-limiter.js";
import { rateLimitStoreKind } from "./rate-limit-spec.js";
import { memoryTokenBucket } from "./rate-store.js";
import { redisTokenBucket } from "./redis-token-bucket.js";

type Read = (request: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;

export interface VertexRateLimit {
  readonly limiter: RateLimiter;
  readonly adaptive?: AdaptiveCeiling;
  /** A sink function (or forwarder) whose attempts the adaptive mode judges; as is without it. */
  observe(write: SinkFunction): SinkFunction;
  /** The same for a connector built from its function (see observeConnectorAttempts). */
  observeConnector(connector: SinkConnector): SinkConnector;
}

export interface VertexRateLimitOptions {
  readonly spec: PipelineSpec;
  readonly vertex: VertexSpec;
  readonly limits: Limits;
  /** The redis buffer's connection; required for a redis store. */
  readonly connection?: RedisConnection;
  readonly logger: Logger;
}

/** The vertex's rate limit, or `undefined` when its limits set none. */
export function createVertexRateLimit(options: VertexRateLimitOptions): VertexRateLimit | undefined {
  const { spec, vertex, limits, connection } = options;
  const rateLimit = limits.rateLimit;
  if (rateLimit === undefined) return undefined;
  const logger = options.logger.child({ vertex: vertex.name });
  const params = { max: rateLimit.max, min: rateLimit.min ?? rateLimit.max, rampUpMs: rateLimit.rampUpDuration };
  const buffer = spec.spec.buffer;
  const kind = rateLimitStoreKind(rateLimit, buffer.type);
  let store;
  if (kind === "redis") {
    // The spec rules refuse a redis store on a memory buffer; this guards specs built in code.
    if (buffer.type !== "redis" || connection === undefined) {
      throw new ConnectorError("UNSUPPORTED_DEPLOYMENT", `vertex '${vertex.name}': limits.rateLimit.store redis needs spec.buffer { type: redis }; use store: { memory: {} } for a limit per process`);
    }
    store = redisTokenBucket(connection.client, rateLimitKey(buffer.keyPrefix, spec.metadata.name, vertex.name), params);
  } else {
    store = memoryTokenBucket(params);
  }
  const adaptive =
    rateLimit.adaptive === undefined
      ? undefined
      : new AdaptiveCeiling({
          max: params.max,
          min: params.min,
          latencyTargetMs: rateLimit.adaptive.latencyTarget,
          onChange: ({ from, to, reason }) => {
            const fields = { from: Math.round(from * 100) / 100, to: Math.round(to * 100) / 100, reason };
            if (to < from) logger.warn("rate limit: adaptive ceiling lowered", fields);
            else logger.info("rate limit: adaptive ceiling raised", fields);
          },
        });
  if (adaptive !== undefined && vertex.kind === "sink" && "process" in vertex.sink) {
    // Its results arrive as frames straight to the sink session: no function to time (docs/flow-control.md).
    logger.warn("rate limit: adaptive mode does not see a process sink's attempts; the rate follows the ramp alone", { hint: "remove adaptive, or use a module sink" });
  }
  const limiter = new RateLimiter({ vertex: vertex.name, store, initialRate: params.rampUpMs > 0 ? params.min : params.max, logger, ...(adaptive === undefined ? {} : { adaptive }) });
  logger.info("rate limit", { store: kind, max: params.max, min: params.min, rampUpMs: params.rampUpMs, ...(adaptive === undefined ? {} : { latencyTargetMs: rateLimit.adaptive!.latencyTarget }) });
  return {
    limiter,
    ...(adaptive === undefined ? {} : { adaptive }),
    observe: (write) => (adaptive === undefined ? write : observeAttempts(write, adaptive)),
    observeConnector: (connector) => (adaptive === undefined ? connector : observeConnectorAttempts(connector, adaptive)),
  };
}

/** The attempt observers of a vertex's rate limit; pass-throughs for a vertex without adaptive mode. */
export function attemptObserver(rate: VertexRateLimit | undefined): Pick<VertexRateLimit, "observe" | "observeConnector"> {
  return rate ?? { observe: (write) => write, observeConnector: (connector) => connector };
}

/**
 * `read` behind the limiter: each read asks for up to its `max`, reads at most what was granted
 * and gives back what it did not use. A read of this consumer's own pending entries (a restart)
 * is not held back — a short pending read would end the re-read too early — but its messages are
 * taken from the bucket afterwards, so they count against the rate.
 */
export function withRateLimit(rate: VertexRateLimit | undefined, read: Read): Read {
  if (rate === undefined) return read;
  const { limiter } = rate;
  return async (request, signal) => {
    if (request.fromPending) {
      const pending = await read(request, signal);
      await limiter.debit(pending.entries.length);
      return pending;
    }
    const granted = await limiter.acquire(request.max, { timeoutMs: request.timeoutMs, signal });
    if (granted === 0) return { entries: [], endOfStream: false };
    let used = 0;
    try {
      const batch = await read({ ...request, max: granted }, signal);
      used = batch.entries.length;
      return batch;
    } finally {
      if (used < granted) await limiter.release(granted - used);
    }
  };
}
