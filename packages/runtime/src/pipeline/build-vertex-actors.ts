/**
 * The vertices' supervisor actors, built in the spec's order: for each, the `ordered` lease on
 * Redis (one worker at a time runs the vertex), its I/O (vertex-io.ts), then its actor
 * (vertex-actor.ts), whose committed watermarks the run keeps for `watermarks()`.
 */
import type { VertexSpec } from "../spec/pipeline-spec.js";
import { leaseOrderedVertex } from "../flow/ordered-options.js";
import type { RunControl } from "./create-pipeline-run.js";
import { createVertexActor } from "./vertex-actor.js";
import type { OnVertexDone } from "./vertex-completion.js";
import { buildVertexIO } from "./vertex-io.js";

/** Builds (does not start) every vertex's actor into `run.actors`; false when the run ended meanwhile. */
export async function buildVertexActors(run: RunControl, vertices: readonly VertexSpec[], onDone: OnVertexDone): Promise<boolean> {
  for (const vertex of vertices) {
    // `ordered` on Redis: one worker at a time runs the vertex (standby until its lease is free).
    const release = await leaseOrderedVertex({ spec: run.spec, vertex, buffer: () => run.bufferOf(vertex.name), consumer: run.consumer, logger: run.logger, cancelled: () => run.isFinished(), onLost: (reason) => void run.end("failed", reason) });
    if (release === undefined) return false;
    if (release !== null) run.closers.push(release);
    const io = await buildVertexIO(run, vertex);
    // Stopped or drained while waiting (for Redis, say): start nothing.
    if (run.isFinished()) return false;
    const actor = createVertexActor(run, vertex, io, {
      onWatermark: (partition, watermark) => {
        (run.watermarks[vertex.name] ??= {})[partition] = watermark;
        run.options.onEventTime?.(vertex.name, partition, { watermark });
      },
      onDone: (output) => onDone(vertex, output),
    });
    run.actors.set(vertex.name, actor);
  }
  return true;
}
