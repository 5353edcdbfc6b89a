/**
 * Registers this worker process in Redis and beats every second, with what it runs and its live
 * state, so `weir ui` can show every worker of a deployment and tell a dead one (missed beats,
 * worker-record.ts). A clean exit leaves the record marked stopped; a killed worker's shows dead.
 *
 * Loaded only for pipelines on a Redis buffer. Its sampler reads actor snapshots once per beat
 * (never per event); without `--ui` no inspection observer is added, so the record has no events.
 */
import { hostname } from "node:os";
import { RedisConnection } from "../buffer/index.js";
import { workersKey } from "../buffer/redis/keys.js";
import { WEIR_SCRIPT_VERSION } from "../buffer/redis/scripts.js";
import type { Logger } from "../observability/logger.js";
import { bufferServerTls } from "../pipeline/buffer-factory.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { ClaimView, ProcessState } from "./dashboard-types.js";
import { HEARTBEAT_LUA, type WorkerRecord } from "./worker-record.js";

export const HEARTBEAT_INTERVAL_MS = 1_000;
// The hash outlives its workers by a day, then goes: a pipeline nobody runs leaves nothing behind.
const TTL_MS = 24 * 60 * 60 * 1000;
const CLAIMS_KEPT = 20;

export interface WorkerHeartbeatOptions {
  readonly spec: PipelineSpec;
  readonly id: string;
  readonly vertices: readonly string[];
  readonly state: () => ProcessState | null;
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

export interface WorkerHeartbeat {
  /** Records a claim of idle entries this worker made (shown under the dead worker it came from). */
  claimed(vertex: string, partition: number, count: number): void;
  /** Stops beating; a last beat marks the record stopped. Idempotent. */
  close(): Promise<void>;
}

export function startWorkerHeartbeat(options: WorkerHeartbeatOptions): WorkerHeartbeat {
  const buffer = options.spec.spec.buffer;
  if (buffer.type !== "redis") throw new Error("worker heartbeats need a redis buffer");
  const tls = bufferServerTls(options.spec);
  const connection = new RedisConnection({
    url: buffer.url,
    cluster: buffer.cluster,
    // Not `weir:<pipeline>`: `weir reset` must not count the heartbeat as a second worker.
    name: `weir-heartbeat:${options.spec.metadata.name}`,
    maxRetriesPerRequest: 1,
    ...(tls === undefined ? {} : { tls: tls.tls }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const key = workersKey(buffer.keyPrefix, options.spec.metadata.name);
  const intervalMs = options.intervalMs ?? HEARTBEAT_INTERVAL_MS;
  const claims: ClaimView[] = [];
  let startedAt = 0;
  // Server time − local time at the last beat: claims are stamped locally, shown in server time.
  let skew = 0;
  let failures = 0;
  let closed = false;
  let beating: Promise<void> = Promise.resolve();

  const beat = async (stopped = false) => {
    const record: WorkerRecord = {
      id: options.id,
      host: hostname(),
      pid: process.pid,
      version: WEIR_SCRIPT_VERSION,
      startedAt,
      intervalMs,
      vertices: options.vertices.map((name) => ({ name, partitions: options.spec.spec.vertices.find((vertex) => vertex.name === name)?.partitions ?? 1 })),
      state: options.state(),
      claims: claims.map((claim) => ({ ...claim, at: claim.at + skew })),
      stopped,
    };
    const sentAt = Date.now();
    try {
      const now = Number(await connection.client.eval(HEARTBEAT_LUA, 1, key, options.id, JSON.stringify(record), String(TTL_MS)));
      skew = now - sentAt;
      if (startedAt === 0) startedAt = now;
      if (failures > 0) options.logger?.info("worker heartbeat restored", { failures });
      failures = 0;
    } catch (error) {
      failures += 1;
      // 1st, 2nd, 4th, 8th … failure in a row: the buffer's own errors say more; this says why the worker may look dead.
      if ((failures & (failures - 1)) === 0) options.logger?.warn("worker heartbeat failed; weir ui may show this worker dead", { failures, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const tick = () => {
    beating = beating.then(() => beat());
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    claimed(vertex, partition, count) {
      claims.push({ vertex, partition, count, at: Date.now() });
      if (claims.length > CLAIMS_KEPT) claims.shift();
      tick(); // a claim is news: publish it now rather than a beat later
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await beating.catch(() => undefined);
      await beat(true);
      await connection.close();
    },
  };
}
