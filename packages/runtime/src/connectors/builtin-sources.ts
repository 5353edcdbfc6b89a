/**
 * The built-in sources: `generator` (generator-source.ts) and `bullmq` (a queue's jobs,
 * bullmq/bullmq-source.ts). Each is a {@link SourceConnector} with the vertex's partitions.
 */
import { tlsFor, type ServerTls } from "../buffer/redis/server-tls.js";
import { silentLogger, type Logger } from "../observability/logger.js";
import type { SourceVertexSpec } from "../spec/pipeline-spec.js";
import { BullmqError } from "./bullmq/bullmq-error.js";
import { ConnectorError } from "./connector-error.js";
import { createGeneratorSource } from "./generator-source.js";
import type { SourceConnector } from "./source-connector.js";

export interface BuiltinSourceOptions {
  /** This process's consumer name (the bullmq source's worker name, the redisStream consumer). */
  readonly consumer?: string;
  readonly logger?: Logger;
  /** The pipeline's name: the redisStream source's default group is `weir-<pipeline>-<vertex>`. */
  readonly pipeline?: string;
  /** The redis buffer's TLS settings: `redisStream` and `bullmq` sources on its server use them. */
  readonly redisTls?: ServerTls;
}

/**
 * The source a source vertex's spec describes. Sources with heavy clients (bullmq, ioredis) are
 * imported only when a spec uses them.
 */
export async function createBuiltinSource(vertex: SourceVertexSpec, options: BuiltinSourceOptions = {}): Promise<SourceConnector> {
  const spec = vertex.source;
  if ("bullmq" in spec) {
    const { queue, url, prefix } = spec.bullmq;
    // Parsing fills `url` from a redis buffer and rejects a spec that leaves it unset otherwise.
    if (url === undefined) throw new BullmqError("BULLMQ_INVALID_OPTIONS", `bullmq source of vertex '${vertex.name}': queue '${queue}' has no url`);
    const tls = tlsFor(url, options.redisTls);
    const { createBullmqSource } = await import("./bullmq/bullmq-source.js");
    return createBullmqSource({
      queue,
      url,
      prefix,
      ...(tls === undefined ? {} : { tls }),
      partitions: vertex.partitions,
      ...(options.consumer === undefined ? {} : { consumer: options.consumer }),
      logger: (options.logger ?? silentLogger).child({ vertex: vertex.name }),
    });
  }
  if ("redisStream" in spec) {
    const { url, stream, streams, group, startFrom, endWhenEmpty } = spec.redisStream;
    const names = streams ?? (stream === undefined ? [] : [stream]);
    if (names.length !== vertex.partitions) {
      throw new ConnectorError(
        "SINK_OPEN_FAILED",
        `redisStream source of vertex '${vertex.name}': ${names.length} stream(s) for ${vertex.partitions} partition(s); give \`stream\` for one partition or \`streams\` with one name per partition`,
      );
    }
    const tls = tlsFor(url, options.redisTls);
    const { createRedisStreamSource } = await import("./redis-stream-source.js");
    return createRedisStreamSource({
      connection: { url, name: `weir:${vertex.name}:source`, ...(tls === undefined ? {} : { tls }) },
      streams: names,
      group: group ?? `weir-${options.pipeline ?? "pipeline"}-${vertex.name}`,
      consumer: options.consumer ?? `${vertex.name}-${process.pid}`,
      startFrom,
      endWhenEmpty,
    });
  }
  return createGeneratorSource(vertex.name, vertex.partitions, spec.generator);
}
