/**
 * Prometheus metrics for a running pipeline, named after Numaflow's so its dashboards carry
 * over, with `pipeline`, `vertex` and `partition` labels.
 *
 *   inspection events ──▶ reads (readerIo.batch answers), acks (reader.acked), per-partition tallies
 *   (any observer)         (sink.epochDone), I/O durations (invoke → answer), critical errors
 *   supervisor events ──▶ epochs committed, protocol errors, read failures (`actor.on(…)`)
 *   pipeline counters ──▶ drops the forwarder counts outside the actors, dedups (no partition)
 *   buffer usage      ──▶ pending / length / usage per partition, when the caller can supply it
 *   event time        ──▶ watermarks and open windows the runtime reports (`metrics.eventTime`),
 *                         late messages from the vertex counters (issue #13)
 *
 * Everything per partition comes from the inspection stream — the supervisors are reached
 * through it too (a root actor's `@xstate.actor` event carries the actor), so `inspect` is the
 * only thing to wire: `createPipeline(spec, { inspect: metrics.inspect })`.
 */
import { createRequire } from "node:module";
import type { Registry as PromRegistry } from "prom-client";

// prom-client is CommonJS: required on first use, synchronously, so `import "@weir/runtime"` and
// runs without --metrics-port never load it (issue #11: start-up time and memory).
const require = createRequire(import.meta.url);
type PromClient = typeof import("prom-client");
import type { ActorRefLike, AnyActorRef, AnyEventObject, InspectionEvent, Observer } from "xstate";
import type { EpochTallies, ReadBatchOutput, SupervisorEmitted } from "@weir/actors";
import type { BufferUsage } from "../buffer/index.js";
import { actorPath, ioSource, isMachineRef, isRootRef } from "./actor-path.js";
import { wallNow } from "../time/wall-clock.js";
import { END_OF_TIME } from "../time/watermark.js";
import type { VertexCounts } from "./vertex-counters.js";

export interface PartitionUsage {
  readonly vertex: string;
  readonly partition: number;
  readonly usage: BufferUsage;
}

export interface PipelineMetricsOptions {
  readonly pipeline: string;
  /** Default: a new registry. */
  readonly registry?: PromRegistry;
  /** Also collect Node process metrics (CPU, memory, event loop lag). Default true. */
  readonly processMetrics?: boolean;
  /** The pipeline's per-vertex counters (`pipeline.counts`), for drops the forwarder counts. */
  readonly counts?: () => Readonly<Record<string, Readonly<VertexCounts>>>;
  /** Fill of every input buffer partition, read on each scrape. */
  readonly bufferUsage?: () => Promise<readonly PartitionUsage[]>;
  /** Messages `onFull: discardLatest` dropped, per vertex whose input was full, per partition (`pipeline.discards`). */
  readonly discards?: () => Readonly<Record<string, readonly number[]>>;
  /** Each rate-limited vertex's limit and wait (`pipeline.rateLimits`, flow/rate-limiter.ts). */
  readonly rateLimits?: () => Readonly<Record<string, { readonly limit: number; readonly waitedMs: number }>>;
  /** Wall-clock ms for the watermark lag (default `Date.now`); tests pass a fake. */
  readonly wallNow?: () => number;
}

export interface PipelineMetrics {
  readonly registry: PromRegistry;
  /** Pass to `createPipeline(spec, { inspect })` (combine with others via `combineInspectors`). */
  readonly inspect: Observer<InspectionEvent>;
  /** What the runtime reports of event time (issue #13): the integrator calls these. */
  readonly eventTime: EventTimeMetrics;
  /** The text exposition of every metric. */
  metrics(): Promise<string>;
}

/** Event-time gauges, fed by the runtime as epochs commit and windows open and close. */
export interface EventTimeMetrics {
  /** A partition's committed watermark (ms; `END_OF_TIME` once its input ended). Never goes back. */
  watermark(vertex: string, partition: number, watermark: number): void;
  /** How many windows a reduce vertex's partition holds open now. */
  openWindows(vertex: string, partition: number, count: number): void;
  /** How large a reduce vertex's partition's window state is now (characters of its JSON). */
  stateSize(vertex: string, partition: number, size: number): void;
}

type PartitionLabels = "pipeline" | "vertex" | "partition";

const durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createPipelineMetrics(options: PipelineMetricsOptions): PipelineMetrics {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = require("prom-client") as PromClient;
  const registry = options.registry ?? new Registry();
  const pipeline = options.pipeline;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const partitionLabels: PartitionLabels[] = ["pipeline", "vertex", "partition"];

  const readTotal = new Counter({ name: "forwarder_read_total", help: "Messages read from a partition (of the input buffer, or of a source).", labelNames: partitionLabels, registers });
  const readBytes = new Counter({ name: "forwarder_read_bytes_total", help: "Bytes of message values read from a partition.", labelNames: partitionLabels, registers });
  const writeTotal = new Counter({
    name: "forwarder_write_total",
    help: "Messages of a partition the vertex's sink (or forwarder, for sources and map vertices) settled ok.",
    labelNames: partitionLabels,
    registers,
  });
  const ackTotal = new Counter({ name: "forwarder_ack_total", help: "Messages of a partition acknowledged (committed) in its input.", labelNames: partitionLabels, registers });
  const dropTotal = new Counter({
    name: "forwarder_drop_total",
    help: "Messages dropped: reason onFailureDrop (retries exhausted with onFailure: drop, per partition) or forwarderDiscard (no edge matched, or a full buffer with onFull: discardLatest; per vertex).",
    labelNames: [...partitionLabels, "reason"],
    registers,
    collect: () => collectForwarderDrops(),
  });
  const dedupTotal = new Counter({
    name: "weir_dedup_total",
    help: "Messages a vertex did not write downstream because they already were: ids the buffer's dedup window held (a redelivery), or writes refused because another worker finished the vertex.",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => collectDedups(),
  });
  const reportedDedups = new Map<string, number>();
  function collectDedups(): void {
    for (const [vertex, count] of Object.entries(options.counts?.() ?? {})) {
      const delta = count.deduped - (reportedDedups.get(vertex) ?? 0);
      if (delta <= 0) continue;
      reportedDedups.set(vertex, count.deduped);
      dedupTotal.inc({ pipeline, vertex }, delta);
    }
  }
  // Delayed redelivery (docs/flow-control.md): read from the vertex counters, like the dedups.
  const retriedLaterTotal = new Counter({
    name: "weir_retried_later_total",
    help: "Messages a vertex's sink or udf answered retryLater: parked, each redelivered after its delay (its epoch committed meanwhile).",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => {
      for (const [vertex, count] of Object.entries(options.counts?.() ?? {})) {
        const delta = (count.retriedLater ?? 0) - (reportedRetriedLater.get(vertex) ?? 0);
        if (delta <= 0) continue;
        reportedRetriedLater.set(vertex, count.retriedLater);
        retriedLaterTotal.inc({ pipeline, vertex }, delta);
      }
    },
  });
  const reportedRetriedLater = new Map<string, number>();
  // Ordered processing per key (docs/flow-control.md): from the vertex counters too.
  const heldBackTotal = new Counter({
    name: "weir_ordered_held_back_total",
    help: "Under ordered: times a message was held back behind an earlier failed message of its key, once per attempt that held it back (sent again in a later attempt).",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => {
      for (const [vertex, count] of Object.entries(options.counts?.() ?? {})) {
        const delta = (count.heldBack ?? 0) - (reportedHeldBack.get(vertex) ?? 0);
        if (delta <= 0) continue;
        reportedHeldBack.set(vertex, count.heldBack);
        heldBackTotal.inc({ pipeline, vertex }, delta);
      }
    },
  });
  const reportedHeldBack = new Map<string, number>();

  // Event time (issue #13). Numaflow has only pipeline-wide watermark gauges
  // (pipeline_watermark_cmp_now, pipeline_processing_lag); these are per vertex and partition.
  const watermarks = new Map<string, { readonly labels: Record<PartitionLabels, string>; value: number }>();
  const watermarkGauge = new Gauge({
    name: "weir_watermark",
    help: "A partition's committed watermark: event time in ms (Unix epoch) below which the vertex expects no more on-time messages; 9007199254740991 once its input ended.",
    labelNames: partitionLabels,
    registers,
  });
  const watermarkLag = new Gauge({
    name: "weir_watermark_lag_seconds",
    help: "Wall-clock now minus a partition's watermark, in seconds, at the scrape: how far event time trails real time (grows while the watermark stalls). Absent once the input ended.",
    labelNames: partitionLabels,
    registers,
    collect: () => {
      const now = (options.wallNow ?? wallNow)();
      for (const { labels, value } of watermarks.values()) {
        if (value === END_OF_TIME) watermarkLag.remove(labels);
        else watermarkLag.set(labels, (now - value) / 1000);
      }
    },
  });
  const stateSizeGauge = new Gauge({ name: "weir_reduce_state_bytes", help: "Size of a reduce vertex's partition's window state: characters of its stored JSON (bytes for ASCII keys).", labelNames: partitionLabels, registers });
  const openWindowsGauge = new Gauge({ name: "weir_open_windows", help: "Windows a reduce vertex's partition holds open (not yet closed by the watermark).", labelNames: partitionLabels, registers });
  const lateTotal = new Counter({
    name: "weir_late_total",
    help: "Messages a reduce vertex met behind its watermark (minus allowedLateness): sent to the fallback with reason late (the summary's late).",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => {
      for (const [vertex, count] of Object.entries(options.counts?.() ?? {})) {
        const delta = (count.late ?? 0) - (reportedLate.get(vertex) ?? 0);
        if (delta <= 0) continue;
        reportedLate.set(vertex, count.late);
        lateTotal.inc({ pipeline, vertex }, delta);
      }
    },
  });
  const reportedLate = new Map<string, number>();
  const eventTime: EventTimeMetrics = {
    watermark(vertex, partition, watermark) {
      const key = `${vertex}\u0000${partition}`;
      const known = watermarks.get(key);
      if (known !== undefined && known.value >= watermark) return;
      const labels = { pipeline, vertex, partition: String(partition) };
      watermarks.set(key, { labels, value: watermark });
      watermarkGauge.set(labels, watermark);
    },
    openWindows(vertex, partition, count) {
      openWindowsGauge.set({ pipeline, vertex, partition: String(partition) }, count);
    },
    stateSize(vertex, partition, size) {
      stateSizeGauge.set({ pipeline, vertex, partition: String(partition) }, size);
    },
  };
  const fallbackTotal = new Counter({ name: "forwarder_fbsink_write_total", help: "Messages of a partition written to the fallback sink.", labelNames: partitionLabels, registers });
  const criticalTotal = new Counter({
    name: "forwarder_critical_error_total",
    help: "Errors that stop or endanger a partition: readFailed (a read failed, retried), readerFailed (a reader gave up), actorCrashed (a machine threw).",
    labelNames: [...partitionLabels, "reason"],
    registers,
  });
  const readTime = new Histogram({ name: "forwarder_read_processing_time_seconds", help: "Time one read of a partition took.", labelNames: partitionLabels, buckets: durationBuckets, registers });
  const writeTime = new Histogram({
    name: "forwarder_write_processing_time_seconds",
    help: "Time one sink attempt of a partition took, from its start to the sink's end of results (or its all-ok answer).",
    labelNames: partitionLabels,
    buckets: durationBuckets,
    registers,
  });
  const ackTime = new Histogram({ name: "forwarder_ack_processing_time_seconds", help: "Time one ack of a partition's epoch took.", labelNames: partitionLabels, buckets: durationBuckets, registers });
  const inflight = new Gauge({ name: "weir_inflight_messages", help: "Messages of a partition read and not yet acknowledged.", labelNames: partitionLabels, registers });
  const epochCommits = new Counter({ name: "weir_epoch_commit_total", help: "Epochs committed, counted once per partition they held.", labelNames: partitionLabels, registers });
  const protocolErrors = new Counter({
    name: "weir_protocol_error_total",
    help: "EOT protocol violations a sink session detected (unknown, duplicate or missing results, early end of results, timeouts …), by code.",
    labelNames: [...partitionLabels, "code"],
    registers,
  });
  const joinWait = new Histogram({
    name: "weir_epoch_join_wait_seconds",
    help: "How long an epoch's first finished partition waited for its last one (0 when one partition).",
    labelNames: ["pipeline", "vertex"],
    buckets: durationBuckets,
    registers,
  });
  const bufferLabels = partitionLabels;
  const bufferPending = new Gauge({
    name: "buffer_pending",
    help: "Entries of an input buffer partition delivered to a reader and not yet acknowledged (on framed Redis, stream entries: one per partition-write).",
    labelNames: bufferLabels,
    registers,
    collect: () => refreshBuffers(),
  });
  const bufferLength = new Gauge({
    name: "buffer_length",
    help: "Entries in an input buffer partition, not yet acknowledged.",
    labelNames: bufferLabels,
    registers,
    collect: () => refreshBuffers(),
  });
  const bufferUsage = new Gauge({
    name: "buffer_usage",
    help: "Fill of an input buffer partition: length / maxLength.",
    labelNames: bufferLabels,
    registers,
    collect: () => refreshBuffers(),
  });

  const bufferDiscards = new Counter({
    name: "buffer_discard_total",
    help: "Messages dropped because this input buffer partition was full and its vertex has onFull: discardLatest.",
    labelNames: bufferLabels,
    registers,
    collect: () => collectDiscards(),
  });
  const reportedDiscards = new Map<string, number>();
  function collectDiscards(): void {
    for (const [vertex, perPartition] of Object.entries(options.discards?.() ?? {})) {
      perPartition.forEach((count, partition) => {
        const key = `${vertex}\u0000${partition}`;
        const delta = count - (reportedDiscards.get(key) ?? 0);
        if (delta <= 0) return;
        reportedDiscards.set(key, count);
        bufferDiscards.inc({ pipeline, vertex, partition: String(partition) }, delta);
      });
    }
  }

  // limits.rateLimit (flow/rate-limiter.ts): the rate in force and the time reads waited for tokens.
  const rateLimitGauge = new Gauge({
    name: "weir_rate_limit",
    help: "Messages per second a rate-limited vertex may read now (the ramp's rate, lowered by the adaptive mode); with a redis store, for every worker of the vertex together.",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => {
      for (const [vertex, status] of Object.entries(options.rateLimits?.() ?? {})) rateLimitGauge.set({ pipeline, vertex }, status.limit);
    },
  });
  const rateLimitWait = new Counter({
    name: "weir_rate_limit_wait_seconds_total",
    help: "Time this process's readers of a vertex waited for rate limit tokens, summed over partitions.",
    labelNames: ["pipeline", "vertex"],
    registers,
    collect: () => {
      for (const [vertex, status] of Object.entries(options.rateLimits?.() ?? {})) {
        const delta = status.waitedMs / 1000 - (reportedWaits.get(vertex) ?? 0);
        if (delta <= 0) continue;
        reportedWaits.set(vertex, status.waitedMs / 1000);
        rateLimitWait.inc({ pipeline, vertex }, delta);
      }
    },
  });
  const reportedWaits = new Map<string, number>();

  // A reader's and a sink session's I/O actors live as long as they do: reads, acks and sink
  // attempts are timed from their requests.
  const readStarted = new WeakMap<object, number>();
  const ackStarted = new WeakMap<object, number>();
  const writeStarted = new WeakMap<object, number>();
  const tallyDrops = new Map<string, number>();
  const reportedForwarderDrops = new Map<string, number>();
  const joins = new Map<string, { first: number; last: number }>();

  function collectForwarderDrops(): void {
    const counts = options.counts?.();
    if (counts === undefined) return;
    for (const [vertex, count] of Object.entries(counts)) {
      const forwarder = count.dropped - (tallyDrops.get(vertex) ?? 0);
      const delta = forwarder - (reportedForwarderDrops.get(vertex) ?? 0);
      if (delta <= 0) continue;
      reportedForwarderDrops.set(vertex, forwarder);
      dropTotal.inc({ pipeline, vertex, partition: "", reason: "forwarderDiscard" }, delta);
    }
  }

  // The three buffer gauges are collected concurrently on a scrape; they share one read.
  let bufferRead: Promise<void> | undefined;
  function refreshBuffers(): Promise<void> {
    bufferRead ??= readBuffers().finally(() => (bufferRead = undefined));
    return bufferRead;
  }

  async function readBuffers(): Promise<void> {
    if (options.bufferUsage === undefined) return;
    for (const { vertex, partition, usage } of await options.bufferUsage()) {
      const labels = { pipeline, vertex, partition: String(partition) };
      bufferPending.set(labels, usage.pending);
      bufferLength.set(labels, usage.length);
      bufferUsage.set(labels, usage.usage);
    }
  }

  const watchSupervisor = (root: AnyActorRef) => {
    root.on("epochCommitted", (event: Extract<SupervisorEmitted, { type: "epochCommitted" }>) => {
      for (const partition of event.partitions) epochCommits.inc({ pipeline, vertex: event.vertex, partition: String(partition) });
      const key = `${event.vertex}\u0000${event.epoch}`;
      const join = joins.get(key);
      joins.delete(key);
      if (join !== undefined) joinWait.observe({ pipeline, vertex: event.vertex }, (join.last - join.first) / 1000);
    });
    root.on("protocolError", (event: Extract<SupervisorEmitted, { type: "protocolError" }>) => {
      protocolErrors.inc({ pipeline, vertex: event.vertex, partition: String(event.partition), code: event.code });
    });
    root.on("readFailed", (event: Extract<SupervisorEmitted, { type: "readFailed" }>) => {
      criticalTotal.inc({ pipeline, vertex: event.vertex, partition: String(event.partition), reason: "readFailed" });
    });
  };

  const onIoAnswer = (io: ActorRefLike, target: ActorRefLike, event: AnyEventObject) => {
    const labels = partitionOf(actorPath(target), pipeline);
    if (labels === undefined) return;
    switch (ioSource(io)) {
      case "readerIo": {
        // One long-lived actor per reader, reading on by itself within the reader's grant: a read
        // lasts from its `reader.read`, or from the grant's previous answer, to its answer (empty
        // reads the actor keeps to itself count into the next answer's time).
        // Reads of new entries go from readerIo to the batcher (`reader.batchRead`, issue 12);
        // the reader hears only the answer that ends the grant, which then carries none of them
        // (`handedOver`): it is not a read of its own, only the grant's end.
        if (event.type === "readerIo.batch" || event.type === "reader.batchRead") {
          const readSince = readStarted.get(io);
          const entries = (event as unknown as ReadBatchOutput).entries;
          let bytes = 0;
          for (const entry of entries) bytes += entry.message.value.byteLength;
          if (entries.length > 0) {
            readTotal.inc(labels, entries.length);
            readBytes.inc(labels, bytes);
            inflight.inc(labels, entries.length);
          }
          const grantEnd = event.type === "readerIo.batch" && (event as { handedOver?: unknown }).handedOver !== undefined && entries.length === 0;
          const now = performance.now();
          if (readSince !== undefined && !grantEnd) readTime.observe(labels, (now - readSince) / 1000);
          if ((event as { done?: unknown }).done === true) readStarted.delete(io);
          else readStarted.set(io, now);
        } else if (event.type === "readerIo.acked") {
          const ackSince = ackStarted.get(io);
          if (ackSince !== undefined) ackTime.observe(labels, (performance.now() - ackSince) / 1000);
        }
        return;
      }
      case "sinkWriter": {
        // One long-lived writer per session: an attempt lasts from its `sinkWriter.write` to its
        // end of results, or its one all-ok frame (fromSinkFunction).
        const writeSince = writeStarted.get(io);
        if (writeSince !== undefined && (event.type === "sinkIo.endOfResults" || event.type === "sinkIo.allOk" || event.type === "sinkIo.crashed")) {
          writeTime.observe(labels, (performance.now() - writeSince) / 1000);
        }
        return;
      }
      default:
        return;
    }
  };

  const onEvent = (target: ActorRefLike, source: ActorRefLike | undefined, event: AnyEventObject) => {
    if (event.type === "xstate.init") return;
    if (event.type === "reader.read" || event.type === "reader.ack") {
      if (!isMachineRef(target)) (event.type === "reader.read" ? readStarted : ackStarted).set(target, performance.now());
      return;
    }
    if (event.type === "sinkWriter.write") {
      if (!isMachineRef(target)) writeStarted.set(target, performance.now());
      return;
    }
    if (source !== undefined && source !== target && !isMachineRef(source)) {
      onIoAnswer(source, target, event);
      return;
    }
    switch (event.type) {
      case "reader.acked": {
        const { partition, count } = event as unknown as { partition: number; count: number };
        const labels = { pipeline, vertex: actorPath(target), partition: String(partition) };
        ackTotal.inc(labels, count);
        inflight.dec(labels, count);
        return;
      }
      case "sink.epochDone": {
        const { partition, epoch, tallies } = event as unknown as { partition: number; epoch: number; tallies: EpochTallies };
        const vertex = actorPath(target);
        const labels = { pipeline, vertex, partition: String(partition) };
        if (tallies.ok > 0) writeTotal.inc(labels, tallies.ok);
        if (tallies.fallback > 0) fallbackTotal.inc(labels, tallies.fallback);
        if (tallies.dropped > 0) {
          dropTotal.inc({ ...labels, reason: "onFailureDrop" }, tallies.dropped);
          tallyDrops.set(vertex, (tallyDrops.get(vertex) ?? 0) + tallies.dropped);
        }
        const key = `${vertex}\u0000${epoch}`;
        const now = performance.now();
        const join = joins.get(key);
        if (join === undefined) joins.set(key, { first: now, last: now });
        else join.last = now;
        return;
      }
      case "reader.failed": {
        const { partition } = event as unknown as { partition: number };
        criticalTotal.inc({ pipeline, vertex: actorPath(target), partition: String(partition), reason: "readerFailed" });
        return;
      }
      default:
        return;
    }
  };

  return {
    registry,
    eventTime,
    inspect: {
      next(inspection) {
        switch (inspection.type) {
          case "@xstate.event":
            onEvent(inspection.actorRef, inspection.sourceRef, inspection.event);
            return;
          case "@xstate.actor":
            if (isRootRef(inspection.actorRef) && isMachineRef(inspection.actorRef)) watchSupervisor(inspection.actorRef as AnyActorRef);
            return;
          case "@xstate.snapshot":
            if ((inspection.snapshot as { status?: string }).status === "error" && isMachineRef(inspection.actorRef)) {
              const path = actorPath(inspection.actorRef);
              const labels = partitionOf(path, pipeline) ?? { pipeline, vertex: path.split("/")[0]!, partition: "" };
              criticalTotal.inc({ ...labels, reason: "actorCrashed" });
            }
            return;
          default:
            return;
        }
      },
    },
    metrics: () => registry.metrics(),
  };
}

/** `out/reader/1` → `{ vertex: "out", partition: "1" }`; undefined for paths that name no partition. */
function partitionOf(path: string, pipeline: string): { pipeline: string; vertex: string; partition: string } | undefined {
  const last = path.lastIndexOf("/");
  const middle = last < 0 ? -1 : path.lastIndexOf("/", last - 1);
  if (middle < 0) return undefined;
  const partition = path.slice(last + 1);
  if (!/^\d+$/.test(partition)) return undefined;
  return { pipeline, vertex: path.slice(0, middle), partition };
}
