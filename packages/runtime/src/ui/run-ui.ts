/**
 * What `weir run` adds for the dashboard, loaded only when it is needed (`--ui`, or a Redis
 * buffer, whose workers register for `weir ui`):
 *
 *   pipeline actors ──sampled every 500 ms──▶ live-sampler ──▶ snapshot ──▶ dashboard server ──▶ browser
 *   inspection events ──▶ event ring (last events per actor; only with --ui)
 *   live-sampler ──each beat──▶ worker heartbeat ──▶ Redis (`weir ui` reads it)
 *   onEventTime + pipeline.watermarks() ──▶ event-time tracker ──▶ watermarks in the snapshot (only with --ui)
 */
import type { InspectionEvent } from "xstate";
import type { Logger } from "../observability/logger.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { DashboardServer } from "./dashboard-server.js";
import type { ProcessState } from "./dashboard-types.js";
import type { DeadLetterPoller } from "./dead-letter-view.js";
import type { EventTimeUpdate } from "../pipeline/create-pipeline.js";
import { usesEventTime } from "../pipeline/uses-event-time.js";
import { createEventRing, type EventRing } from "./event-ring.js";
import { createEventTimeTracker } from "./run-event-time.js";
import { startLiveSampler, DEFAULT_SAMPLE_INTERVAL_MS, type LiveSampler, type SampledPipeline } from "./live-sampler.js";
import { startWorkerHeartbeat, type WorkerHeartbeat } from "./worker-heartbeat.js";

export interface RunUiOptions {
  readonly spec: PipelineSpec;
  /** The vertices this process runs. */
  readonly vertices: readonly string[];
  /** Serve the dashboard (`--ui`); absent: only register and beat (Redis buffer). */
  readonly ui?: { readonly port: number; readonly host?: string; readonly token?: string | null };
  readonly logger?: Logger;
  /** Where notes for the user go (what the dashboard could not send). */
  readonly note?: (line: string) => void;
}

export interface RunUi {
  /** The inspection observer for the event ring; undefined without `--ui`. */
  readonly inspect: ((event: InspectionEvent) => void) | undefined;
  /** The dashboard's URL, when serving one. */
  readonly url: string | undefined;
  /** Starts sampling `pipeline` (and, on Redis, beating as the worker named by its consumer). */
  attach(pipeline: SampledPipeline & { readonly consumer: string }): void;
  /** `PipelineOptions.onEventTime` for the dashboard's watermark view; undefined without `--ui` or event time. */
  readonly eventTime: ((vertex: string, partition: number, update: EventTimeUpdate) => void) | undefined;
  /** A claim of idle entries this process made (published with the heartbeat). */
  claimed(vertex: string, partition: number, count: number): void;
  /** Closes the server, the heartbeat (its record removed) and the pollers. Idempotent. */
  close(): Promise<void>;
}

export async function startRunUi(options: RunUiOptions): Promise<RunUi> {
  let pipeline: SampledPipeline | undefined;
  const events: EventRing | undefined = options.ui === undefined ? undefined : createEventRing();
  // Only a served page shows event time; `weir ui` reads it from Redis, not from heartbeats.
  const eventTime = options.ui === undefined || !usesEventTime(options.spec) ? undefined : createEventTimeTracker(options.spec, () => (pipeline as { consumer?: string } | undefined)?.consumer ?? null, options.vertices);
  const sampler: LiveSampler = startLiveSampler({
    pipeline: () => pipeline,
    ...(events === undefined ? {} : { events }),
    ...(eventTime === undefined ? {} : { eventTime }),
    // Without a page to feed, one sample per heartbeat is enough.
    intervalMs: options.ui === undefined ? 1_000 : DEFAULT_SAMPLE_INTERVAL_MS,
  });
  const redis = options.spec.spec.buffer.type === "redis";
  let heartbeat: WorkerHeartbeat | undefined;
  let server: DashboardServer | undefined;
  let deadLetters: DeadLetterPoller | undefined;
  let stopWorkers: (() => Promise<void>) | undefined;
  const close = async () => {
    sampler.stop();
    const skipped = server?.stats().skipped ?? 0;
    if (skipped > 0) options.note?.(`dashboard: ${skipped} updates were not sent to a page that could not keep up`);
    await Promise.allSettled([server?.close(), heartbeat?.close(), deadLetters?.close(), stopWorkers?.()]);
  };
  try {
    if (options.ui !== undefined) {
      const served = await serveRunDashboard(options, sampler);
      server = served.server;
      deadLetters = served.deadLetters;
      stopWorkers = served.stopWorkers;
    }
  } catch (error) {
    await close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    inspect: events?.inspect,
    url: server?.url,
    eventTime: eventTime === undefined ? undefined : (vertex, partition, update) => eventTime.observe(vertex, partition, update),
    attach(value) {
      pipeline = value;
      if (redis && heartbeat === undefined && closing === undefined) {
        heartbeat = startWorkerHeartbeat({
          spec: options.spec,
          id: value.consumer,
          vertices: options.vertices,
          // `weir ui` reads event time from Redis itself: the beat need not carry it.
          state: () => withoutEventTime(sampler.current()),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        });
      }
    },
    claimed: (vertex, partition, count) => heartbeat?.claimed(vertex, partition, count),
    close: () => (closing ??= close()),
  };
}

/** The server and what feeds it; imported only with `--ui`. */
async function serveRunDashboard(options: RunUiOptions, sampler: LiveSampler) {
  const [{ startDashboardServer }, { startDeadLetterPoller }, { pipelineGraph }, { buildSnapshot }, { startWorkersPoller }] = await Promise.all([
    import("./dashboard-server.js"),
    import("./dead-letter-view.js"),
    import("./pipeline-graph.js"),
    import("./snapshot.js"),
    import("./workers-poller.js"),
  ]);
  const ui = options.ui!;
  const graph = pipelineGraph(options.spec);
  const deadLetters = startDeadLetterPoller(options.spec);
  const workers = startWorkersPoller(options.spec);
  const snapshot = () =>
    buildSnapshot({
      pipeline: options.spec.metadata.name,
      mode: "run",
      sampleIntervalMs: DEFAULT_SAMPLE_INTERVAL_MS,
      graph,
      own: sampler.current(),
      workers: workers.current(),
      deadLetters: deadLetters.current(),
      now: Date.now(),
      problems: workers.error() === null ? [] : [`the workers could not be read from Redis: ${workers.error()}`],
    });
  try {
    const server = await startDashboardServer({
      port: ui.port,
      ...(ui.host === undefined ? {} : { host: ui.host }),
      token: ui.token ?? null,
      source: { snapshot, onUpdate: (listener) => sampler.onSample(() => listener()) },
    });
    return { server, deadLetters, stopWorkers: workers.close };
  } catch (error) {
    await Promise.allSettled([deadLetters.close(), workers.close()]);
    throw error;
  }
}

function withoutEventTime(state: ProcessState): ProcessState {
  if (state.eventTime === undefined) return state;
  const { eventTime: _eventTime, ...rest } = state;
  return rest;
}
