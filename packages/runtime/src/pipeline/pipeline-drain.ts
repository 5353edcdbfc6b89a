/**
 * `drain()`: a graceful stop. In memory the sources drain and end of stream cascades, so nothing
 * held in memory is lost; on Redis every vertex drains at once, and what is unread stays in the
 * streams. A drain may come before `start()` has built the actors (a signal while modules load or
 * Redis connects): it is remembered and sent once they run, and the run then ends `drained`.
 */
import type { VertexSpec } from "../spec/pipeline-spec.js";
import type { RunControl } from "./create-pipeline-run.js";

export interface PipelineDrain {
  /** The handle's `drain()`. */
  request(): void;
  /** Every actor started: a drain asked for before is sent now, and later ones reach the actors at once. */
  actorsStarted(): void;
  /** A drain was asked for: the run's status is then `drained`. */
  requested(): boolean;
}

export function createPipelineDrain(run: RunControl, vertices: readonly VertexSpec[]): PipelineDrain {
  let requested = false;
  /** Every actor started: from then on a drain reaches them. Before, a drain ends the start. */
  let running = false;
  const send = () => {
    for (const vertex of vertices) {
      if (run.durable || vertex.kind === "source") run.actors.get(vertex.name)?.send({ type: "pipeline.drain" });
    }
  };
  return {
    request() {
      requested = true;
      // While start() still waits (for Redis, a module loading) nothing was read: end the start now,
      // drained. Before start() the drain is remembered and sent once the actors run.
      if (run.hasStarted() && !running) {
        void run.end("drained", "drained before the pipeline had started; nothing was read");
        return;
      }
      send();
    },
    actorsStarted() {
      running = true;
      if (requested) send();
    },
    requested: () => requested,
  };
}
