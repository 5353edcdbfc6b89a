/**
 * Polls the workers hash (worker-registry.ts) every second on a connection of its own, named
 * `weir-ui:<pipeline>` so that `weir reset` does not take the dashboard for a running worker.
 */
import { readPeriodically } from "./periodic-read.js";
import { RedisConnection } from "../buffer/index.js";
import { bufferServerTls } from "../pipeline/buffer-factory.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { readWorkers, type RegisteredWorker } from "./worker-registry.js";

export const WORKERS_POLL_MS = 1_000;

export interface WorkersPoller {
  current(): readonly RegisteredWorker[];
  /** Resolves after the next completed poll. */
  refreshed(): Promise<void>;
  /** Why the last poll failed, or null. */
  error(): string | null;
  close(): Promise<void>;
}

export function startWorkersPoller(spec: PipelineSpec, intervalMs: number = WORKERS_POLL_MS): WorkersPoller {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis") return { current: () => [], refreshed: async () => undefined, error: () => null, close: async () => undefined };
  const tls = bufferServerTls(spec);
  const connection = new RedisConnection({
    url: buffer.url,
    cluster: buffer.cluster,
    name: `weir-ui:${spec.metadata.name}`,
    maxRetriesPerRequest: 1,
    ...(tls === undefined ? {} : { tls: tls.tls }),
  });
  const polled = readPeriodically(() => readWorkers(connection.client, spec), [] as readonly RegisteredWorker[], intervalMs);
  return {
    current: polled.current,
    refreshed: polled.refreshed,
    error: polled.error,
    async close() {
      polled.stop();
      await connection.close();
    },
  };
}
