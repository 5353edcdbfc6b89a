/**
 * Dead-letter queues as `weir dlq` sees them: the `fallback: { bullmq: { queue } }` of a spec's
 * vertices, and the dead letters in them (jobs written by the bullmq fallback sink, see
 * queued-message.ts).
 *
 * A dead letter is a job of the queue that nobody has completed: waiting, prioritized, delayed,
 * failed (a consumer of the DLQ gave up on it) or active (a consumer holds it; it cannot be
 * removed). The tools only touch the jobs of the spec's vertices that fall back into the queue,
 * so two pipelines sharing a queue (with different vertex names) leave each other's alone.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { JobType } from "bullmq";
import { Queue } from "bullmq";
import type { Message } from "@weir/actors";
import type { Logger } from "../../observability/logger.js";
import type { PipelineSpec } from "../../spec/pipeline-spec.js";
import { isRecord } from "../../spec/issue-draft.js";
import { BullmqError } from "./bullmq-error.js";
import { bullmqFailure, closeBullmqClient, createBullmqClient } from "./bullmq-client.js";
import { messageFromJob } from "./queued-message.js";

/** A dead-letter queue a spec names: where it is, and which vertices fall back into it. */
export interface DeadLetterQueueRef {
  readonly queue: string;
  readonly url: string;
  readonly prefix: string;
  readonly vertices: readonly string[];
  /**
   * Extra TLS options for a rediss:// `url` (files read). {@link deadLetterQueuesOf} leaves it
   * unset; `weir dlq` sets the redis buffer's (`buffer.tls`) for a queue on the buffer's server.
   */
  readonly tls?: TlsOptions;
}

/** One dead letter: the message as it failed, and why. */
export interface DeadLetter {
  readonly queue: string;
  readonly jobId: string;
  /** BullMQ state: waiting, prioritized, delayed, failed or active. */
  readonly state: string;
  /** The message as the vertex received it (no `x-weir-*` headers: they are the fields below). */
  readonly message: Message;
  readonly vertex: string | undefined;
  readonly partition: number | undefined;
  readonly epoch: number | undefined;
  readonly attempts: number | undefined;
  /** The last error, or the reason the sink gave with `fallback`. */
  readonly reason: string | undefined;
  /** When the job was added, in ms since the epoch. */
  readonly enqueuedAt: number;
}

/** Which dead letters to select: by vertex, by message id (or job id). */
export interface DeadLetterFilter {
  readonly vertices?: ReadonlySet<string>;
  readonly ids?: ReadonlySet<string>;
}

const DEAD_STATES: readonly JobType[] = ["waiting", "prioritized", "delayed", "failed", "active"];
const PAGE = 1_000;

/**
 * The bullmq dead-letter queues of a spec (one per distinct url, prefix and queue), or only the
 * one of `vertex`. Vertices whose fallback is not bullmq have none.
 */
export function deadLetterQueuesOf(spec: PipelineSpec, vertex?: string): DeadLetterQueueRef[] {
  const byKey = new Map<string, { queue: string; url: string; prefix: string; vertices: string[] }>();
  for (const candidate of spec.spec.vertices) {
    if (candidate.kind === "source" || candidate.fallback === undefined || !("bullmq" in candidate.fallback)) continue;
    if (vertex !== undefined && candidate.name !== vertex) continue;
    const { queue, url, prefix } = candidate.fallback.bullmq;
    if (url === undefined) continue; // parsing fills it, or rejects the spec
    const key = JSON.stringify([url, prefix, queue]);
    const ref = byKey.get(key) ?? { queue, url, prefix, vertices: [] };
    ref.vertices.push(candidate.name);
    byKey.set(key, ref);
  }
  return [...byKey.values()];
}

/**
 * One dead-letter queue, opened for listing and removing.
 *
 * @example
 * ```ts
 * const dlq = DeadLetterQueue.open(deadLetterQueuesOf(spec)[0]!);
 * try {
 *   for (const letter of await dlq.list()) console.log(letter.message.id, letter.reason);
 * } finally {
 *   await dlq.close();
 * }
 * ```
 */
export class DeadLetterQueue {
  readonly ref: DeadLetterQueueRef;
  private readonly queue: Queue;
  private readonly client: ReturnType<typeof createBullmqClient>;
  private closed = false;

  private constructor(ref: DeadLetterQueueRef, logger?: Logger) {
    this.ref = ref;
    this.client = createBullmqClient({
      url: ref.url,
      role: "tool",
      name: `weir:dlq:${ref.queue}`,
      ...(ref.tls === undefined ? {} : { tls: ref.tls }),
      ...(logger === undefined ? {} : { logger }),
    });
    this.queue = new Queue(ref.queue, { connection: this.client, prefix: ref.prefix });
    this.queue.on("error", () => undefined);
  }

  static open(ref: DeadLetterQueueRef, logger?: Logger): DeadLetterQueue {
    return new DeadLetterQueue(ref, logger);
  }

  /** The dead letters of the ref's vertices (or of `filter.vertices`), oldest first. */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    this.assertOpen("list");
    const vertices = filter.vertices ?? new Set(this.ref.vertices);
    const letters = new Map<string, DeadLetter>();
    try {
      for (const state of DEAD_STATES) {
        for (let start = 0; ; start += PAGE) {
          const jobs = await this.queue.getJobs([state], start, start + PAGE - 1, true);
          for (const job of jobs) {
            if (job?.id === undefined || letters.has(job.id)) continue;
            const letter = deadLetterFromJob(this.ref.queue, job.id, state, job);
            if (letter.vertex === undefined || !vertices.has(letter.vertex)) continue;
            if (filter.ids !== undefined && !filter.ids.has(letter.message.id) && !filter.ids.has(letter.jobId)) continue;
            letters.set(job.id, letter);
          }
          if (jobs.length < PAGE) break;
        }
      }
    } catch (error) {
      throw bullmqFailure(`dead-letter queue '${this.ref.queue}': listing jobs failed`, error);
    }
    return [...letters.values()].sort((a, b) => a.enqueuedAt - b.enqueuedAt || a.jobId.localeCompare(b.jobId));
  }

  /** Removes a dead letter's job. False when it could not be: a consumer holds it (active). */
  async remove(letter: DeadLetter): Promise<boolean> {
    this.assertOpen("remove");
    try {
      return (await this.queue.remove(letter.jobId)) === 1;
    } catch (error) {
      throw bullmqFailure(`dead-letter queue '${this.ref.queue}': removing job ${letter.jobId} failed`, error);
    }
  }

  /** Closes the queue and its connection. Idempotent; every step runs even when one fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close().catch(() => undefined);
    await closeBullmqClient(this.client);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BullmqError("BULLMQ_CLOSED", `dead-letter queue '${this.ref.queue}': ${operation} after close()`);
  }
}

/** A dead letter from one job; a job Weir did not write has no vertex (and is never selected). */
export function deadLetterFromJob(queue: string, jobId: string, state: string, job: { readonly data: unknown; readonly timestamp: number }): DeadLetter {
  const data = isRecord(job.data) ? job.data : {};
  const read = messageFromJob({ id: jobId, data: job.data, timestamp: job.timestamp });
  // messageFromJob re-stamps the fallback headers; a dead letter keeps them as fields instead.
  const headers = isRecord(data["headers"]) ? Object.fromEntries(Object.entries(data["headers"]).map(([name, value]) => [name, String(value)])) : {};
  const number = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);
  return {
    queue,
    jobId,
    state,
    message: { ...read, id: typeof data["id"] === "string" ? data["id"] : read.id, headers },
    vertex: typeof data["vertex"] === "string" ? data["vertex"] : undefined,
    partition: number(data["partition"]),
    epoch: number(data["epoch"]),
    attempts: number(data["attempts"]),
    reason: typeof data["reason"] === "string" ? data["reason"] : undefined,
    enqueuedAt: job.timestamp,
  };
}
