/**
 * The `bullmq` sink: one BullMQ job per message, idempotent by message id. As a `fallback:` it
 * is the dead-letter queue: each job then also holds why the message failed (queued-message.ts).
 *
 * ```
 *   write(messages, ctx) ──▶ addBulk([{ name: vertex, data, opts: { jobId: toJobId(id) } }, …]) ──▶ ok × n
 * ```
 *
 * - **Idempotent.** The job id is derived from the message id (job-id.ts), and BullMQ adds
 *   nothing for an id it already holds, in any state. So an epoch redriven after a timeout, a
 *   fallback write retried by the session, or the same input run twice enqueues each message
 *   once — until the job is removed (`weir dlq replay`/`purge`, or the consumer's
 *   `removeOnComplete`), after which the id may be enqueued again.
 * - **Durable when ok.** Results are answered only once `addBulk` (one MULTI per chunk) has
 *   returned; if it throws, every message of the attempt fails and the session retries.
 * - The job's name is the writing vertex. Jobs get BullMQ's default options: their consumers
 *   decide attempts, backoff and retention.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Queue } from "bullmq";
import type { Message, SinkFunction, SinkResult } from "@weir/actors";
import { silentLogger, type Logger } from "../../observability/logger.js";
import { sinkConnectorFromFunction, type SinkConnector } from "../sink-connector.js";
import { BullmqError } from "./bullmq-error.js";
import { bullmqFailure, closeBullmqClient, createBullmqClient } from "./bullmq-client.js";
import { toJobId } from "./job-id.js";
import { toJobData } from "./queued-message.js";

export interface BullmqSinkOptions {
  /** The queue to add jobs to (no ':'). */
  readonly queue: string;
  /** The queue's Redis. */
  readonly url: string;
  /** BullMQ's key prefix (default `"bull"`). */
  readonly prefix?: string;
  /** Extra TLS options for a `rediss://` URL (a private CA, client certificate…). */
  readonly tls?: TlsOptions;
  readonly logger?: Logger;
}

/** Jobs per MULTI: large batches are added in several, in order. */
const ADD_CHUNK = 1_000;

/**
 * Creates a `bullmq` sink (or dead-letter queue).
 *
 * @example
 * ```ts
 * const dlq = createBullmqSink({ queue: "weir-dlq", url: "redis://127.0.0.1:6379" });
 * const pipeline = createPipeline(spec, { sinks: { out: dlq } });
 * ```
 */
export function createBullmqSink(options: BullmqSinkOptions): SinkConnector {
  const { queue: name } = options;
  if (typeof name !== "string" || name.length === 0 || name.includes(":")) {
    throw new BullmqError("BULLMQ_INVALID_OPTIONS", `bullmq sink: queue must be a non-empty name without ':', got ${JSON.stringify(name)}`);
  }
  const logger = (options.logger ?? silentLogger).child({ queue: name });
  const client = createBullmqClient({ url: options.url, role: "producer", name: `weir:bullmq:${name}`, logger, ...(options.tls === undefined ? {} : { tls: options.tls }) });
  const queue = new Queue(name, { connection: client, prefix: options.prefix ?? "bull" });
  // An EventEmitter throws on an 'error' event nobody listens to; the client already logs it.
  queue.on("error", () => undefined);
  let closed = false;

  const write: SinkFunction = async (messages: readonly Message[], context) => {
    if (closed) throw new BullmqError("BULLMQ_CLOSED", `bullmq sink '${name}': write after close()`);
    const results: SinkResult[] = [];
    const jobs = [];
    for (const message of messages) {
      if (message.id.length === 0) {
        // BullMQ would give a job without an id a counter id: not idempotent, so refuse it.
        results.push({ id: message.id, status: "failure", error: "bullmq sink: a message with an empty id cannot become an idempotent job" });
        continue;
      }
      jobs.push({ name: context.vertex, data: toJobData(message, context), opts: { jobId: toJobId(message.id) } });
      results.push({ id: message.id, status: "ok" });
    }
    try {
      for (let start = 0; start < jobs.length; start += ADD_CHUNK) await queue.addBulk(jobs.slice(start, start + ADD_CHUNK));
    } catch (error) {
      throw bullmqFailure(`bullmq sink '${name}': adding ${jobs.length} jobs failed`, error);
    }
    return results;
  };

  return sinkConnectorFromFunction(write, {
    close: async () => {
      if (closed) return;
      closed = true;
      // Every step runs even when one fails.
      await queue.close().catch(() => undefined);
      await closeBullmqClient(client);
    },
  });
}
