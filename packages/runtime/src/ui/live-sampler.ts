/**
 * Samples a running pipeline for the dashboard on an interval (500 ms by default): each
 * supervisor's snapshot and its partition children's, the buffers' fill and the discards. The
 * actors are never asked anything on the hot path: reading a snapshot is reading a field, and the
 * only per-event work is the event ring's (event-ring.ts).
 *
 *   setInterval ──▶ supervisor.getSnapshot() ──▶ vertices (counters, rates, EOT join per open epoch)
 *               ──▶ system.get(reader|batcher|sink).getSnapshot() ──▶ actors (state, last events)
 *               ──▶ pipeline.bufferUsage() (async; the previous answer is used meanwhile)
 *               ──▶ pipeline.watermarks() + onEventTime ──▶ event time (watermarks, holders, open windows)
 */
import type { AnyActorRef } from "xstate";
import { actorIds, type BatcherContext, type PartitionReaderContext, type SinkSessionContext, type SupervisorContext } from "@weir/actors";
import type { BufferUsage } from "../buffer/index.js";
import { actorPath, machineId } from "../observability/actor-path.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import type { ActorView, EpochView, JoinStatus, PartitionView, ProcessState, VertexView } from "./dashboard-types.js";
import type { EventRing } from "./event-ring.js";
import type { EventTimeTracker } from "./run-event-time.js";
import { activeNodeIds, flattenStateValue } from "./state-value.js";

/** The part of a Pipeline the sampler reads (a structural type, so tests can pass a fake). */
export interface SampledPipeline {
  readonly actors: ReadonlyMap<string, AnyActorRef>;
  discards(): Readonly<Record<string, readonly number[]>>;
  counts(): Readonly<Record<string, Readonly<VertexCounts>>>;
  bufferUsage(): Promise<ReadonlyArray<{ readonly vertex: string; readonly partition: number; readonly usage: BufferUsage }>>;
  /** Committed watermarks per vertex and partition (event-time pipelines). */
  watermarks?(): Readonly<Record<string, Readonly<Record<number, number>>>>;
}

export interface LiveSampler {
  /** The newest sample (empty before the first). */
  current(): ProcessState;
  /** Takes a sample now (the interval does this by itself). */
  sample(): ProcessState;
  /** Calls `listener` after every sample; returns the unsubscribe. */
  onSample(listener: (state: ProcessState) => void): () => void;
  stop(): void;
}

export interface LiveSamplerOptions {
  readonly pipeline: () => SampledPipeline | undefined;
  readonly events?: EventRing;
  readonly intervalMs?: number;
  readonly worker?: string | null;
  readonly now?: () => number;
  /** Watermarks and open windows per vertex, from the pipeline's watermarks (run-event-time.ts). */
  readonly eventTime?: EventTimeTracker;
}

export const DEFAULT_SAMPLE_INTERVAL_MS = 500;

interface Previous {
  readonly at: number;
  readonly read: number;
  readonly acked: number;
}

export function startLiveSampler(options: LiveSamplerOptions): LiveSampler {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
  const worker = options.worker ?? null;
  const previous = new Map<string, Previous>();
  const epochTimes = new Map<string, { closedAt: number; firstDoneAt: number | null }>();
  const listeners = new Set<(state: ProcessState) => void>();
  let usage = new Map<string, BufferUsage>();
  let asking = false;
  let latest: ProcessState = { vertices: [], actors: [] };

  const refreshUsage = (pipeline: SampledPipeline) => {
    if (asking) return;
    asking = true;
    pipeline
      .bufferUsage()
      .then((list) => (usage = new Map(list.map((entry) => [`${entry.vertex}/${entry.partition}`, entry.usage]))))
      .catch(() => undefined) // an unreachable Redis: keep the last answer; the run reports it itself
      .finally(() => (asking = false));
  };

  const sample = (): ProcessState => {
    const pipeline = options.pipeline();
    if (pipeline === undefined) return latest;
    refreshUsage(pipeline);
    const at = now();
    const vertices: VertexView[] = [];
    const actors: ActorView[] = [];
    const seenEpochs = new Set<string>();
    const discards = pipeline.discards();
    const counts = pipeline.counts();
    for (const [name, supervisor] of pipeline.actors) {
      const snapshot = supervisor.getSnapshot() as { value: Parameters<typeof flattenStateValue>[0]; context: SupervisorContext };
      const context = snapshot.context;
      const children = partitionChildren(supervisor, name, context.partitions);
      actors.push(actorView(supervisor, name, options.events, worker));
      for (const child of children) for (const ref of [child.reader, child.batcher, child.session, child.windows]) if (ref !== undefined) actors.push(actorView(ref, actorPath(ref), options.events, worker));
      const partitions = children.map((child, partition) => partitionView(name, partition, context, child, at));
      const epochs = context.units.map((unit) => {
        const key = `${name}#${unit.epoch}`;
        seenEpochs.add(key);
        const statuses = unit.partitions.map((partition) => ({ partition, status: joinStatus(unit.epoch, partition, unit.done, children[partition]?.session) }));
        const times = epochTimes.get(key) ?? { closedAt: at, firstDoneAt: null };
        if (times.firstDoneAt === null && statuses.some((entry) => entry.status === "done")) times.firstDoneAt = at;
        epochTimes.set(key, times);
        const view: EpochView = {
          epoch: unit.epoch,
          partitions: statuses,
          waitingFor: statuses.filter((entry) => entry.status !== "done").map((entry) => entry.partition),
          openMs: at - times.closedAt,
          waitingMs: times.firstDoneAt === null ? 0 : at - times.firstDoneAt,
          committing: context.committing === unit.epoch,
        };
        return view;
      });
      vertices.push({
        name,
        state: flattenStateValue(snapshot.value),
        partitions,
        epochs,
        committedEpochs: context.committedEpochs,
        totals: counts[name] === undefined ? null : { ...counts[name]! },
        discarded: [...(discards[name] ?? [])],
        worker,
      });
    }
    for (const key of epochTimes.keys()) if (!seenEpochs.has(key)) epochTimes.delete(key);
    latest = options.eventTime === undefined ? { vertices, actors } : { vertices, actors, eventTime: options.eventTime.sample(pipeline.watermarks?.() ?? {}, at) };
    for (const listener of listeners) listener(latest);
    return latest;
  };

  const partitionView = (vertex: string, partition: number, context: SupervisorContext, child: Children, at: number): PartitionView => {
    const reader = child.reader?.getSnapshot().context as PartitionReaderContext | undefined;
    const batcher = child.batcher?.getSnapshot().context as BatcherContext | undefined;
    const totals = context.totals[partition];
    const acked = reader?.acked ?? totals?.acked ?? 0;
    const read = reader === undefined ? acked : readCount(reader, batcher);
    const key = `${vertex}/${partition}`;
    const before = previous.get(key);
    previous.set(key, { at, read, acked });
    const seconds = before === undefined ? 0 : (at - before.at) / 1000;
    const rate = (value: number, old: number | undefined) => (seconds <= 0 || old === undefined ? 0 : Math.max(0, (value - old) / seconds));
    const buffer = usage.get(key);
    return {
      partition,
      read,
      acked,
      readRate: rate(read, before?.read),
      ackRate: rate(acked, before?.acked),
      ok: totals?.ok ?? 0,
      fallback: totals?.fallback ?? 0,
      dropped: totals?.dropped ?? 0,
      retries: totals?.retries ?? 0,
      protocolErrors: totals?.protocolErrors ?? 0,
      buffer: buffer === undefined ? null : { length: buffer.length, pending: buffer.pending, maxLength: buffer.maxLength, usage: buffer.usage, isFull: buffer.isFull },
    };
  };

  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    current: () => latest,
    sample,
    onSample(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}

/**
 * Entries read from a partition: acked + in sealed epochs not yet acked + handed to the batcher and
 * not yet sealed. The last is the batcher's `openCount`, not the reader's `unsealed`: the reader's
 * I/O actor hands reads to the batcher itself and the reader counts them only when a grant ends, and a
 * seal extends a running grant (issue 12), so the reader's count lags for as long as the grant runs
 * (below zero once seals outnumber what it has counted). Without a batcher, the reader's own count.
 */
export function readCount(reader: PartitionReaderContext, batcher: BatcherContext | undefined): number {
  let sealed = 0;
  for (const epoch of reader.sealed) sealed += epoch.offsets.length;
  return reader.acked + sealed + (batcher?.openCount ?? reader.unsealed);
}

interface Children {
  readonly reader: AnyActorRef | undefined;
  readonly batcher: AnyActorRef | undefined;
  readonly session: AnyActorRef | undefined;
  /** A reduce vertex's window keeper; undefined elsewhere. */
  readonly windows: AnyActorRef | undefined;
}

function partitionChildren(supervisor: AnyActorRef, vertex: string, partitions: number): Children[] {
  const system = supervisor.system as { get(id: string): AnyActorRef | undefined } | undefined;
  return Array.from({ length: partitions }, (_, partition) => ({
    reader: system?.get(actorIds.reader(vertex, partition)),
    batcher: system?.get(actorIds.batcher(vertex, partition)),
    session: system?.get(actorIds.sinkSession(vertex, partition)),
    windows: system?.get(actorIds.windowKeeper(vertex, partition)),
  }));
}

/** Where partition `p` stands in epoch `e`: done, its EOT in its session, or not yet sent. */
function joinStatus(epoch: number, partition: number, done: Readonly<Record<number, unknown>>, session: AnyActorRef | undefined): JoinStatus {
  if (done[partition] !== undefined) return "done";
  const context = session?.getSnapshot().context as SinkSessionContext | undefined;
  if (context === undefined) return "waitingForEot";
  if (context.work?.epoch === epoch) return "eotReceived";
  return context.inbox.some((entry) => entry.epoch === epoch && entry.count !== null) ? "eotReceived" : "waitingForEot";
}

function actorView(ref: AnyActorRef, path: string, events: EventRing | undefined, worker: string | null): ActorView {
  const snapshot = ref.getSnapshot() as { value: Parameters<typeof flattenStateValue>[0] };
  const machine = machineId(ref) ?? "?";
  return {
    path,
    machine,
    active: activeNodeIds(machine, snapshot.value),
    state: flattenStateValue(snapshot.value),
    events: events?.events(path) ?? [],
    worker,
  };
}
