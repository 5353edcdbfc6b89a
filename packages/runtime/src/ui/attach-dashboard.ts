/**
 * `weir ui <spec>`: the dashboard of a deployment on Redis, from what its workers publish
 * (worker-heartbeat.ts) and what Redis holds (pending entries, dead letters, watermarks and open
 * windows: event-time-poller.ts). It runs no vertex
 * and writes nothing.
 */
import { ConnectorError } from "../connectors/connector-error.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { startDashboardServer, type DashboardServer } from "./dashboard-server.js";
import { startDeadLetterPoller } from "./dead-letter-view.js";
import { startEventTimePoller } from "./event-time-poller.js";
import { pipelineGraph } from "./pipeline-graph.js";
import { buildSnapshot } from "./snapshot.js";
import { startWorkersPoller, WORKERS_POLL_MS } from "./workers-poller.js";

export interface AttachDashboardOptions {
  readonly spec: PipelineSpec;
  readonly port: number;
  readonly host?: string;
  readonly token: string | null;
}

export interface AttachedDashboard {
  readonly server: DashboardServer;
  close(): Promise<void>;
}

export async function startAttachedDashboard(options: AttachDashboardOptions): Promise<AttachedDashboard> {
  const { spec } = options;
  if (spec.spec.buffer.type !== "redis") {
    throw new ConnectorError(
      "UNSUPPORTED_DEPLOYMENT",
      `weir ui attaches to workers on a Redis buffer, and pipeline '${spec.metadata.name}' uses spec.buffer { type: ${spec.spec.buffer.type} }; run it with 'weir run <spec> --ui' instead`,
    );
  }
  const graph = pipelineGraph(spec);
  const workers = startWorkersPoller(spec);
  const deadLetters = startDeadLetterPoller(spec);
  const eventTime = startEventTimePoller(spec);
  const listeners = new Set<() => void>();
  const snapshot = () =>
    buildSnapshot({
      pipeline: spec.metadata.name,
      mode: "attach",
      sampleIntervalMs: WORKERS_POLL_MS,
      graph,
      own: null,
      workers: workers.current(),
      deadLetters: deadLetters.current(),
      eventTime: eventTime.current(),
      now: Date.now(),
      problems: [
        ...(workers.error() === null ? [] : [`the workers could not be read from Redis: ${workers.error()}`]),
        ...(eventTime.error() === null ? [] : [`the watermarks could not be read from Redis: ${eventTime.error()}`]),
      ],
    });
  // One broadcast per workers poll: the workers publish once a second, faster would repeat itself.
  let running = true;
  const loop = async () => {
    while (running) {
      await workers.refreshed();
      if (!running) break;
      for (const listener of listeners) listener();
    }
  };
  void loop();
  const close = async () => {
    running = false;
    await Promise.allSettled([workers.close(), deadLetters.close(), eventTime.close()]);
  };
  try {
    const server = await startDashboardServer({
      port: options.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      token: options.token,
      source: {
        snapshot,
        onUpdate(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
    });
    return { server, close: async () => void (await Promise.allSettled([server.close(), close()])) };
  } catch (error) {
    await close();
    throw error;
  }
}
