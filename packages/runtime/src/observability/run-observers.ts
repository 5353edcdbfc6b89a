/**
 * What `weir run` attaches to a pipeline besides logs: the live inspector (`--inspect`), a trace
 * recorder (`--trace`) and Prometheus metrics (`--metrics-port`), all fed by the one inspection
 * observer `createPipeline` takes.
 *
 *   createPipeline(spec, { inspect }) ──▶ combineInspectors ──┬─▶ metrics (prom-client) ──▶ /metrics
 *                                                            ├─▶ trace recorder ──▶ bounded file writer
 *                                                            └─▶ live inspector ──▶ inspector server ──▶ browser
 */
import type { InspectionEvent, Observer } from "xstate";
import type { Pipeline, EventTimeUpdate } from "../pipeline/create-pipeline.js";
import type { RunSummary } from "./vertex-counters.js";
import { combineInspectors } from "./combine-inspectors.js";
import type { LiveInspector } from "./live-inspector.js";
import type { MetricsServer } from "./metrics-server.js";
import { ObservabilityError, portError } from "./observability-error.js";
import type { PartitionUsage, PipelineMetrics } from "./pipeline-metrics.js";
import { createTraceFileWriter, type TraceFileWriter } from "./trace-file-writer.js";
import type { TracePayloads } from "./trace-format.js";
import { createTraceRecorder, type TraceRecorder } from "./trace-recorder.js";

export interface RunObserverOptions {
  readonly pipeline: string;
  readonly inspectPort?: number;
  readonly traceFile?: string;
  readonly tracePayloads?: TracePayloads;
  readonly metricsPort?: number;
  /** Keep serving metrics this long after the run ends, for a last scrape. */
  readonly metricsLingerMs?: number;
  /** Where notes for the user go (URLs, what the trace holds). */
  readonly note: (line: string) => void;
}

export interface RunObservers {
  /** The observer to pass to `createPipeline`; undefined when nothing is attached. */
  readonly inspect: Observer<InspectionEvent> | undefined;
  /** Lets metrics read the pipeline's counters (and buffer usage, where the pipeline offers it). */
  attach(pipeline: Pipeline): void;
  /** Resolves once a browser has opened the inspector (or `signal` aborts). */
  waitForViewer(signal?: AbortSignal): Promise<void>;
  /** Ends the trace, lingers for the last scrape, closes servers. Runs every step even when one fails. */
  finish(summary: RunSummary | undefined): Promise<void>;
  /** Cuts the linger short (a signal after the run ended). */
  interrupt(): void;
  /** Feeds the watermark and open-window gauges (pass to createPipeline's `onEventTime`). */
  eventTime(vertex: string, partition: number, update: EventTimeUpdate): void;
}

export async function startRunObservers(options: RunObserverOptions): Promise<RunObservers> {
  let pipeline: Pipeline | undefined;
  let metrics: PipelineMetrics | undefined;
  let metricsServer: MetricsServer | undefined;
  let inspector: LiveInspector | undefined;
  let writer: TraceFileWriter | undefined;
  let recorder: TraceRecorder | undefined;
  const lingering = new AbortController();
  const cleanup = async () => {
    await Promise.allSettled([inspector?.close(), metricsServer?.close(), writer?.close()]);
  };

  try {
    // Each observer's module (prom-client, ws, @statelyai/inspect) loads only when asked for.
    if (options.metricsPort !== undefined) {
      const { createPipelineMetrics } = await import("./pipeline-metrics.js");
      const { startMetricsServer } = await import("./metrics-server.js");
      metrics = createPipelineMetrics({
        pipeline: options.pipeline,
        counts: () => pipeline?.counts() ?? {},
        bufferUsage: () => bufferUsageOf(pipeline),
        discards: () => pipeline?.discards() ?? {},
        rateLimits: () => pipeline?.rateLimits() ?? {},
      });
      metricsServer = await startMetricsServer(metrics.registry, options.metricsPort).catch((cause: unknown) => {
        throw portError("metrics", options.metricsPort!, cause);
      });
      options.note(`metrics at ${metricsServer.url}`);
    }
    if (options.traceFile !== undefined) {
      try {
        writer = createTraceFileWriter(options.traceFile);
      } catch (cause) {
        throw new ObservabilityError("TRACE_UNWRITABLE", `cannot write the trace to ${options.traceFile}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      recorder = createTraceRecorder({ write: writer.write, pipeline: options.pipeline, ...(options.tracePayloads === undefined ? {} : { payloads: options.tracePayloads }) });
    }
    if (options.inspectPort !== undefined) {
      const { startLiveInspector } = await import("./live-inspector.js");
      inspector = await startLiveInspector({ port: options.inspectPort }).catch((cause: unknown) => {
        if (cause instanceof ObservabilityError) throw cause;
        if ((cause as { code?: unknown }).code !== undefined) throw portError("inspector", options.inspectPort!, cause);
        throw cause;
      });
      options.note(`inspector at ${inspector.url} — open it in a browser to watch the actors (Stately inspector)`);
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  return {
    // Metrics first: they must see every event; the trace and the inspector only read them.
    inspect: combineInspectors(metrics?.inspect, recorder?.inspect, inspector?.inspect),
    attach(value) {
      pipeline = value;
    },
    waitForViewer(signal) {
      if (inspector === undefined) return Promise.resolve();
      options.note("waiting for a browser to open the inspector before starting (--inspect-wait)");
      return inspector.waitForViewer(signal);
    },
    interrupt() {
      lingering.abort();
    },
    eventTime(vertex, partition, update) {
      if (update.watermark !== undefined) metrics?.eventTime.watermark(vertex, partition, update.watermark);
      if (update.openWindows !== undefined) metrics?.eventTime.openWindows(vertex, partition, update.openWindows);
      if (update.stateSize !== undefined) metrics?.eventTime.stateSize(vertex, partition, update.stateSize);
    },
    async finish(summary) {
      recorder?.end(summary === undefined ? {} : { summary });
      const closingTrace = writer?.close();
      if (metricsServer !== undefined && (options.metricsLingerMs ?? 0) > 0 && !lingering.signal.aborted) {
        options.note(`the run ended; serving metrics for ${Math.round(options.metricsLingerMs! / 1000)}s more (Ctrl-C ends it)`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.metricsLingerMs);
          lingering.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
      const [trace] = await Promise.allSettled([closingTrace, inspector?.close(), metricsServer?.close()]);
      if (trace?.status === "fulfilled" && trace.value !== undefined && recorder !== undefined) {
        const stats = trace.value;
        const size = stats.bytes >= 1024 * 1024 ? `${(stats.bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(stats.bytes / 1024)} KiB`;
        const waited = stats.blockingWrites > 0 ? `; the run waited for the disk ${stats.blockingWrites} times (${Math.round(stats.blockedMs)} ms)` : "";
        options.note(`trace: ${stats.lines} records (${size}) in ${options.traceFile}${waited}`);
        if (stats.error !== null) options.note(`trace: INCOMPLETE — writing failed (${stats.error}); ${stats.elided} records were not written`);
      }
      const skipped = inspector?.stats().skipped ?? 0;
      if (skipped > 0) options.note(`inspector: ${skipped} events were not sent to a browser that could not keep up`);
    },
  };
}

/** Buffer fill per partition, when the pipeline offers `bufferUsage()` (see docs/observability.md). */
async function bufferUsageOf(pipeline: Pipeline | undefined): Promise<readonly PartitionUsage[]> {
  return pipeline === undefined ? [] : pipeline.bufferUsage();
}
