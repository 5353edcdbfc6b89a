/**
 * The `bullmq` source: a BullMQ queue's jobs as a stream. A job becomes a message
 * (queued-message.ts), and is completed only once the epoch that carried it commits — so a
 * crash, a stop or a lost lock delivers it again (at-least-once, DESIGN I1).
 *
 * ```
 *   partition p: Worker p ──getNextJob(token)──▶ job (active, locked) ──▶ read(p) ──▶ epoch … commit
 *                                                                                    │
 *                      job.moveToCompleted(null, token, fetchNext = false) ◀── ack(p, [job ids])
 *   every lockDuration/2: extendJobLocks(held ids, tokens)   every stalledInterval: stalled jobs → wait
 * ```
 *
 * BullMQ's manual processing (https://docs.bullmq.io/patterns/manually-fetching-jobs): each
 * partition is a Worker without a processor, so it never runs jobs itself; the reader fetches
 * them. Because Weir holds a job from its read until its epoch commits — which may take longer
 * than the lock (a sink retrying) — the source extends the locks of every held job itself, and
 * runs BullMQ's stalled checker, which puts back in `wait` the jobs of a consumer that died.
 *
 * Choices:
 * - **Partitions are competing consumers.** Every partition's Worker takes jobs from the same
 *   queue (no key affinity: a queue has no partitions); more partitions read in parallel.
 * - **Unbounded.** A queue never ends: a `bullmq` source runs until drained or stopped.
 * - **Never failed for stalling.** `maxStalledCount` is effectively infinite: a job whose lock
 *   was lost goes back to `wait`, never to `failed`, so no message is lost for a slow epoch.
 * - **Released on close.** Jobs still held when the source closes (a stop, not a drain) go back
 *   to `wait` at once rather than after their lock expires.
 * - **Completed jobs** follow the job's own `removeOnComplete` (BullMQ's default keeps them).
 * - Offsets are job ids.
 */
import { randomUUID } from "node:crypto";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Worker, type Job } from "bullmq";
import type { ReadBatchOutput, ReadEntry } from "@weir/actors";
import { silentLogger, type Logger } from "../../observability/logger.js";
import type { SourceConnector } from "../source-connector.js";
import { monotonicNow } from "../../time/monotonic-clock.js";
import { BullmqError } from "./bullmq-error.js";
import { bullmqFailure, closeBullmqClient, createBullmqClient } from "./bullmq-client.js";
import { messageFromJob } from "./queued-message.js";

export interface BullmqSourceOptions {
  /** The queue to take jobs from (no ':'). */
  readonly queue: string;
  /** The queue's Redis. */
  readonly url: string;
  /** BullMQ's key prefix (default `"bull"`). */
  readonly prefix?: string;
  /** How many readers (one BullMQ Worker each) take jobs from the queue in parallel. */
  readonly partitions: number;
  /** This process's worker name, shown by BullMQ and CLIENT LIST (default: a random id). */
  readonly consumer?: string;
  /** How long a fetched job stays locked without renewal, in ms (default 30 000; renewed every half). */
  readonly lockDurationMs?: number;
  /** How often stalled jobs (their lock expired) are put back in `wait`, in ms (default 30 000). */
  readonly stalledIntervalMs?: number;
  /** Longest single blocking wait for a job, in ms (default 200): bounds how long an abort waits. */
  readonly blockSliceMs?: number;
  /** Extra TLS options for a `rediss://` URL (a private CA, client certificate…). */
  readonly tls?: TlsOptions;
  readonly logger?: Logger;
}

interface Held {
  readonly job: Job;
  readonly token: string;
}

interface Partition {
  readonly worker: Worker;
  /** Jobs read and not yet completed, by job id (the offset). */
  readonly held: Map<string, Held>;
}

// BullMQ's negative script codes (finished-errors.ts in bullmq) that mean "this job is no longer
// ours to complete": missing job (-1), missing lock (-2), not active (-3), lock mismatch (-6).
const LOST_JOB_CODES: ReadonlySet<number> = new Set([-1, -2, -3, -6]);
const NEVER_FAIL_FOR_STALLING = 1_000_000_000;

/**
 * Creates a `bullmq` source.
 *
 * @example
 * ```ts
 * const source = createBullmqSource({ queue: "orders", url: "redis://127.0.0.1:6379", partitions: 2 });
 * const pipeline = createPipeline(spec, { sources: { in: source } });
 * ```
 */
export function createBullmqSource(options: BullmqSourceOptions): SourceConnector {
  const { queue, partitions } = options;
  if (typeof queue !== "string" || queue.length === 0 || queue.includes(":")) {
    throw invalid(`queue must be a non-empty name without ':', got ${JSON.stringify(queue)}`);
  }
  if (!Number.isInteger(partitions) || partitions < 1) throw invalid(`partitions must be an integer ≥ 1, got ${partitions}`);
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  const stalledIntervalMs = options.stalledIntervalMs ?? 30_000;
  const blockSliceMs = options.blockSliceMs ?? 200;
  for (const [what, value] of [["lockDurationMs", lockDurationMs], ["stalledIntervalMs", stalledIntervalMs], ["blockSliceMs", blockSliceMs]] as const) {
    if (!(Number.isFinite(value) && value >= 1)) throw invalid(`${what} must be a number ≥ 1, got ${value}`);
  }
  const consumer = options.consumer ?? randomUUID();
  const logger = (options.logger ?? silentLogger).child({ queue });
  // Workers block on their own duplicates of this client; it needs maxRetriesPerRequest: null.
  const client = createBullmqClient({
    url: options.url,
    role: "worker",
    name: `weir:bullmq:${queue}:${consumer}`,
    logger,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  const parts: Partition[] = Array.from({ length: partitions }, () => {
    const worker = new Worker(queue, null, {
      connection: client,
      prefix: options.prefix ?? "bull",
      name: consumer,
      autorun: false,
      lockDuration: lockDurationMs,
      stalledInterval: stalledIntervalMs,
      maxStalledCount: NEVER_FAIL_FOR_STALLING,
      drainDelay: blockSliceMs / 1000,
    });
    worker.on("error", (error: Error) => logger.warn("bullmq worker error", { error: error.message }));
    return { worker, held: new Map<string, Held>() };
  });
  let closed = false;
  let started = false;
  let renewal: NodeJS.Timeout | undefined;
  let sequence = 0;

  const part = (partition: number, operation: string): Partition => {
    if (closed) throw new BullmqError("BULLMQ_CLOSED", `bullmq source '${queue}': ${operation} after close()`);
    const found = Number.isInteger(partition) ? parts[partition] : undefined;
    if (found === undefined) {
      throw new BullmqError("BULLMQ_PARTITION_OUT_OF_RANGE", `bullmq source '${queue}': ${operation} on partition ${partition}, but it has ${parts.length}`);
    }
    return found;
  };

  const renewLocks = async () => {
    for (const { worker, held } of parts) {
      if (held.size === 0) continue;
      const entries = [...held];
      try {
        const lost = await worker.extendJobLocks(entries.map(([id]) => id), entries.map(([, item]) => item.token), lockDurationMs);
        for (const id of lost) held.delete(id);
        if (lost.length > 0) {
          logger.warn("lost the lock of jobs not yet committed; BullMQ will deliver them again", { count: lost.length, first: lost[0] });
        }
      } catch (error) {
        logger.warn("extending job locks failed; retrying at the next renewal", { error: error instanceof Error ? error.message : String(error) });
      }
    }
  };

  // Background work starts with the first read, so creating a source does no I/O.
  const start = () => {
    if (started) return;
    started = true;
    renewal = setInterval(() => void renewLocks(), Math.max(1, Math.floor(lockDurationMs / 2)));
    renewal.unref();
    void parts[0]!.worker.startStalledCheckTimer().catch((error: unknown) => logger.warn("bullmq stalled checker failed", { error: String(error) }));
  };

  const release = async (job: Job, token: string) => {
    try {
      await job.moveToWait(token);
    } catch {
      // Its lock will expire and the stalled checker will put it back instead.
    }
  };

  return {
    partitions,
    async read(partition, { max, timeoutMs, signal }): Promise<ReadBatchOutput> {
      const { worker, held } = part(partition, "read");
      start();
      const deadline = monotonicNow() + timeoutMs;
      const entries: ReadEntry[] = [];
      while (entries.length < max && !signal.aborted && !closed) {
        // Wait (one block slice at a time) only while nothing was read and time is left.
        const block = entries.length === 0 && monotonicNow() < deadline;
        const token = `${worker.id}:${++sequence}`;
        const before = monotonicNow();
        let job: Job | undefined;
        try {
          job = await worker.getNextJob(token, { block });
        } catch (error) {
          if (entries.length > 0) break;
          throw bullmqFailure(`bullmq source '${queue}': fetching a job failed`, error);
        }
        if (job === undefined || job.id === undefined) {
          if (!block || monotonicNow() >= deadline) break;
          // A rate-limited or paused queue answers at once: do not spin until the deadline.
          if (monotonicNow() - before < 5) await sleep(Math.min(20, deadline - monotonicNow()), signal);
          continue;
        }
        if (signal.aborted || closed) {
          // The reader is going away: a job handed to it now would only wait for its lock to expire.
          await release(job, token);
          break;
        }
        held.set(job.id, { job, token });
        entries.push({ offset: job.id, message: messageFromJob(job) });
      }
      return { entries, endOfStream: false };
    },
    async ack(partition, offsets) {
      const { held } = part(partition, "ack");
      const failures: unknown[] = [];
      await Promise.all(
        offsets.map(async (offset) => {
          const item = held.get(offset);
          if (item === undefined) return; // already completed, or its lock was lost
          try {
            await item.job.moveToCompleted(null, item.token, false);
            if (held.get(offset) === item) held.delete(offset);
          } catch (error) {
            const code = (error as { code?: unknown }).code;
            if (typeof code === "number" && LOST_JOB_CODES.has(code)) {
              if (held.get(offset) === item) held.delete(offset);
              logger.warn("a committed job was no longer ours to complete; BullMQ delivers it again", { job: offset, error: (error as Error).message });
              return;
            }
            failures.push(error);
          }
        }),
      );
      if (failures.length > 0) {
        throw bullmqFailure(`bullmq source '${queue}': completing ${failures.length} of ${offsets.length} jobs failed`, failures[0]);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (renewal !== undefined) clearInterval(renewal);
      // Every step runs even when one fails (BullMQ's rule for close()).
      await Promise.allSettled(parts.flatMap(({ held }) => [...held.values()].map((item) => release(item.job, item.token))));
      for (const { held } of parts) held.clear();
      await Promise.allSettled(parts.map(({ worker }) => worker.close()));
      await closeBullmqClient(client);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function invalid(message: string): BullmqError {
  return new BullmqError("BULLMQ_INVALID_OPTIONS", `bullmq source: ${message}`);
}
