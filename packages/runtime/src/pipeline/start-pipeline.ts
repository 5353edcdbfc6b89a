/**
 * `start()`: opens the buffers, refuses Redis keys that belong to another spec of this name, builds
 * the vertices' actors and starts them downstream first, so every reader is waiting before data
 * flows. Resolves with the run's summary when the run ends.
 */
import type { RunSummary } from "../observability/vertex-counters.js";
import type { VertexSpec } from "../spec/pipeline-spec.js";
import { buildVertexActors } from "./build-vertex-actors.js";
import type { RunControl } from "./create-pipeline-run.js";
import type { PipelineDrain } from "./pipeline-drain.js";
import { claimSpecKeys } from "./spec-fingerprint.js";
import type { OnVertexDone } from "./vertex-completion.js";

export interface StartParts {
  readonly vertices: readonly VertexSpec[];
  /** The spec's file, when it came from one (claimSpecKeys names it). */
  readonly specFile: string | undefined;
  readonly drain: PipelineDrain;
  /** Told when a vertex's supervisor completes (vertex-completion.ts). */
  readonly onVertexDone: OnVertexDone;
}

export async function startPipeline(run: RunControl, parts: StartParts): Promise<RunSummary> {
  const context = run.begin();
  // Stopped before it started: nothing was opened, and the stop's summary is the answer.
  if (context === undefined) return run.done;
  const done = run.done;
  try {
    // Before anything reads or writes: refuse keys that belong to another spec of this name.
    if (context.connection !== undefined) await claimSpecKeys(context.connection, run.spec, parts.specFile);
    if (!(await buildVertexActors(run, parts.vertices, parts.onVertexDone))) return done;
  } catch (error) {
    // A stop or drain during the start closed the connection under a waiting command.
    if (run.isFinished()) return done;
    await run.end("failed", error instanceof Error ? error.message : String(error));
    throw error;
  }
  if (run.isFinished()) return done;
  // Downstream first, so every reader is waiting before data flows.
  for (const vertex of [...parts.vertices].reverse()) run.actors.get(vertex.name)!.start();
  run.logger.info("pipeline started", { vertices: parts.vertices.map((vertex) => vertex.name) });
  parts.drain.actorsStarted();
  return done;
}
