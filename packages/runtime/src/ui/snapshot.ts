/**
 * Assembles a {@link DashboardSnapshot} from its parts. In `run` mode the vertices and actors are
 * this process's own; in `attach` mode they are what each live worker published with its last
 * heartbeat (a dead worker's last state is stale, so only its record and pending entries show).
 */
import { DASHBOARD_FORMAT, type DashboardSnapshot, type DeadLetters, type PipelineGraph, type ProcessState, type VertexEventTime } from "./dashboard-types.js";
import type { RegisteredWorker } from "./worker-registry.js";

export interface SnapshotParts {
  readonly pipeline: string;
  readonly mode: "run" | "attach";
  readonly sampleIntervalMs: number;
  readonly graph: PipelineGraph;
  readonly own: ProcessState | null;
  readonly workers: readonly RegisteredWorker[];
  readonly deadLetters: DeadLetters;
  readonly now: number;
  /** Attach mode: the watermarks and open windows Redis holds (run mode: `own.eventTime`). */
  readonly eventTime?: readonly VertexEventTime[];
  /** What the dashboard could not read (shown on the page). */
  readonly problems?: readonly string[];
}

export function buildSnapshot(parts: SnapshotParts): DashboardSnapshot {
  const states: ProcessState[] =
    parts.mode === "run"
      ? parts.own === null ? [] : [parts.own]
      : parts.workers.filter((worker) => worker.view.alive && worker.record.state !== null).map((worker) => stamp(worker.record.state!, worker.record.id));
  return {
    format: DASHBOARD_FORMAT,
    pipeline: parts.pipeline,
    mode: parts.mode,
    at: parts.now,
    sampleIntervalMs: parts.sampleIntervalMs,
    graph: parts.graph,
    vertices: states.flatMap((state) => state.vertices),
    actors: states.flatMap((state) => state.actors),
    workers: parts.workers.map((worker) => worker.view),
    deadLetters: parts.deadLetters,
    eventTime: parts.mode === "run" ? (parts.own?.eventTime ?? []) : (parts.eventTime ?? []),
    problems: parts.problems ?? [],
  };
}

/** A worker's published state, each vertex and actor labelled with the worker. */
function stamp(state: ProcessState, worker: string): ProcessState {
  return {
    vertices: state.vertices.map((vertex) => ({ ...vertex, worker })),
    actors: state.actors.map((actor) => ({ ...actor, worker })),
  };
}
