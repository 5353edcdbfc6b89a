/**
 * What a vertex's end means for the run: a failed vertex fails it; a completed one declares end of
 * stream to the buffers it writes (so the next vertices can finish); a drained one on Redis does
 * not (what it did not read stays for the next run). The run ends when every vertex has: a bounded
 * run thus ends vertex by vertex, every epoch committed.
 */
import type { SupervisorOutput } from "@weir/actors";
import type { VertexSpec } from "../spec/pipeline-spec.js";
import type { PipelineRun } from "./pipeline-run.js";
import { retryControlWrite } from "./retry-control-write.js";

/** Told when a vertex's supervisor completes: its output, or none when it was stopped. */
export type OnVertexDone = (vertex: VertexSpec, output: SupervisorOutput | undefined) => void;

/**
 * What to tell when a vertex's supervisor completes: the run ends, `drained` when a drain was asked
 * for, else `completed`, once every vertex of this process ended well.
 */
export function endRunWithLastVertex(run: PipelineRun, vertices: readonly VertexSpec[], drainRequested: () => boolean): OnVertexDone {
  const ended = new Set<string>();
  const onVertexDone = async (vertex: VertexSpec, output: SupervisorOutput | undefined) => {
    // A stopped actor completes without output: stop() has already ended the run.
    if (run.isFinished() || output === undefined) return;
    if (!(await completeVertex(run, vertex, output))) return;
    ended.add(vertex.name);
    if (vertices.every((candidate) => ended.has(candidate.name))) await run.end(drainRequested() ? "drained" : "completed");
  };
  return (vertex, output) => void onVertexDone(vertex, output);
}

/** Returns whether the vertex ended well (completed or drained); the run has ended when it did not. */
async function completeVertex(run: PipelineRun, vertex: VertexSpec, output: SupervisorOutput): Promise<boolean> {
  if (output.status === "failed") {
    run.logger.error("vertex failed", { vertex: vertex.name, reason: output.reason });
    await run.end("failed", `vertex '${vertex.name}' failed: ${output.reason ?? "unknown reason"}`);
    return false;
  }
  if (run.durable && output.drained) {
    // Drained, not ended: on Redis the input keeps what was not read, and an end-of-stream
    // marker now would end the pipeline for good — the next run's readers would stop at it.
    // (In memory the drain ends the data with the process: the cascade lets every vertex
    // finish what is in memory.)
    run.logger.info("vertex drained", { vertex: vertex.name, epochs: output.committedEpochs });
    return true;
  }
  run.logger.info("vertex completed", { vertex: vertex.name, epochs: output.committedEpochs });
  try {
    await declareEndOfStream(run, vertex);
    return true;
  } catch (error) {
    await run.end("failed", `vertex '${vertex.name}' completed but its end of stream could not be written: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}

/**
 * Durable before this process may exit: other workers finish only when they see it. Retried like
 * a data write (Redis over maxmemory, or briefly unreachable): every message is delivered by now,
 * and only this marker lets the next vertices finish.
 */
async function declareEndOfStream(run: PipelineRun, vertex: VertexSpec): Promise<void> {
  const downstream = run.spec.spec.edges.filter((candidate) => candidate.from === vertex.name);
  await Promise.all(
    downstream.map((edge) =>
      retryControlWrite(() => run.bufferOf(edge.to).endOfStream(vertex.name), {
        what: `end of stream of vertex '${vertex.name}' into '${edge.to}'`,
        logger: run.logger.child({ vertex: vertex.name }),
        cancelled: () => run.isFinished(),
      }),
    ),
  );
}
