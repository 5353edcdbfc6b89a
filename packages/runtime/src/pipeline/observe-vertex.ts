import type { Actor } from "xstate";
import type { FailureLog } from "../observability/failure-log.js";
import type { Logger } from "../observability/logger.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import type { VertexSpec } from "../spec/pipeline-spec.js";
import type { VertexMachine } from "./vertex-machine.js";

/** Counts a vertex's committed epochs' tallies into its counters, and logs its protocol errors and failed reads. */
export function observe(actor: Actor<VertexMachine>, vertex: VertexSpec, count: VertexCounts, logger: Logger, failures: FailureLog): void {
  const log = logger.child({ vertex: vertex.name });
  actor.on("epochCommitted", (event) => {
    count.ok += event.tallies.ok;
    count.fallback += event.tallies.fallback;
    count.dropped += event.tallies.dropped;
    if (event.tallies.dropped > 0) {
      const last = failures.lastFailure(vertex.name);
      failures.record(vertex.name, "dropped", event.tallies.dropped, `retries exhausted (onFailure: drop)${last === undefined ? "" : `; last failure: ${last}`}`);
    }
    if (vertex.kind === "sink") count.written += event.tallies.ok;
    log.debug("epoch committed", { epoch: event.epoch, partitions: event.partitions, messages: event.tallies.messages });
  });
  actor.on("protocolError", (event) => {
    count.protocolErrors += 1;
    log.warn("protocol error", { partition: event.partition, epoch: event.epoch, attempt: event.attempt, code: event.code, error: event.message });
  });
  actor.on("readFailed", (event) => log.warn("read failed; retrying", { partition: event.partition, error: event.error }));
}
