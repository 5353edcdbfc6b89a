/**
 * The ioredis clients Weir hands to BullMQ. BullMQ is imported as ESM, where it cannot load
 * ioredis from connection options itself ("pass an already-constructed client instance"), so
 * every Queue and Worker gets a client built here from the spec's Redis URL — parsed by the same
 * {@link redisOptionsFromUrl} as the buffers (TLS for rediss://, credentials, db).
 *
 * | role | used by | maxRetriesPerRequest | reconnects |
 * |---|---|---|---|
 * | `worker` | the bullmq source | `null` (BullMQ requires it for blocking fetches) | forever, capped backoff |
 * | `producer` | the bullmq sink and fallback | 20: a write fails, and the sink session retries it | forever, capped backoff |
 * | `tool` | `weir dlq` | 1 | 3 attempts, then the command fails instead of hanging |
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import { WeirError } from "@weir/actors";
import { reconnectDelay, redisOptionsFromUrl } from "../../buffer/redis/redis-connection.js";
import { endpointOf, tlsFailure } from "../../buffer/redis/tls-failure.js";
import { silentLogger, type Logger } from "../../observability/logger.js";
import { BullmqError } from "./bullmq-error.js";

export type BullmqClientRole = "worker" | "producer" | "tool";

export interface BullmqClientOptions {
  readonly url: string;
  readonly role: BullmqClientRole;
  /** CLIENT SETNAME, so `CLIENT LIST` shows who is connected. */
  readonly name: string;
  /** Extra TLS options for a `rediss://` URL (a private CA, client certificate…); see RedisConnectionOptions.tls. */
  readonly tls?: TlsOptions;
  readonly logger?: Logger;
}

/**
 * A new ioredis client for BullMQ. The caller owns it: BullMQ never closes a client it was
 * given (it closes only the duplicates it makes for blocking), so close it after the Queue or
 * Worker (`quit()`, or `disconnect()` when Redis is gone).
 *
 * @throws {BullmqError} `BULLMQ_INVALID_OPTIONS` for a URL that is not redis:// or rediss://.
 */
export function createBullmqClient(options: BullmqClientOptions): Redis {
  let base: ReturnType<typeof redisOptionsFromUrl>;
  try {
    base = redisOptionsFromUrl(options.url, options.tls);
  } catch (error) {
    throw new BullmqError("BULLMQ_INVALID_OPTIONS", `bullmq: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const logger = (options.logger ?? silentLogger).child({ component: "bullmq" });
  const tool = options.role === "tool";
  const redisOptions: RedisOptions = {
    ...base,
    connectionName: options.name,
    // BullMQ's scripts and replies are written for RESP2, as are the buffers'.
    protocol: 2,
    maxRetriesPerRequest: options.role === "worker" ? null : tool ? 1 : 20,
    retryStrategy: (attempt: number) => (tool && attempt > 3 ? null : reconnectDelay(attempt)),
  };
  const client = new Redis(redisOptions);
  let reported = false;
  client.on("error", (error: Error) => {
    // One line per outage: ioredis repeats the error on every reconnect attempt.
    if (reported) return;
    reported = true;
    // A TLS problem is said in words, with what to set (the buffer's connection fails on it; BullMQ's keeps retrying).
    const tls = tlsFailure(error, endpointOf(base.host, base.port));
    logger.warn("bullmq redis connection error", { connection: options.name, error: tls?.message ?? error.message });
  });
  client.on("ready", () => (reported = false));
  return client;
}

/** Closes a client we created, even when Redis is unreachable. Never throws. */
export async function closeBullmqClient(client: Redis): Promise<void> {
  try {
    if (client.status !== "end") await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  } catch {
    // already closed, or unreachable
  } finally {
    client.disconnect();
  }
}

/** A BullMQ or Redis failure as a typed, retriable error; Weir's own errors pass through. */
export function bullmqFailure(what: string, error: unknown): WeirError {
  if (error instanceof WeirError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BullmqError("BULLMQ_UNAVAILABLE", `${what}: ${message}`, { cause: error });
}
