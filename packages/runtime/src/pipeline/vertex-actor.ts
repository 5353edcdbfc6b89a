/**
 * One vertex's supervisor actor: its machine provided with the vertex's I/O, its input from the
 * spec's limits, and its events counted and reported (counts, committed watermarks, completion).
 */
import { createActor, type Actor } from "xstate";
import { actorIds, type SupervisorOutput } from "@weir/actors";
import { effectiveLimits, type VertexSpec } from "../spec/pipeline-spec.js";
import { observe } from "./observe-vertex.js";
import { NO_TIMEOUT_MS, type PipelineRun } from "./pipeline-run.js";
import { retryPolicyFor } from "./retry-policy.js";
import { isReduceVertex } from "./uses-event-time.js";
import { provideVertexMachine, type VertexIO, type VertexMachine } from "./vertex-machine.js";

export interface VertexActorHooks {
  /** Each partition's watermark as an epoch commits it. */
  readonly onWatermark: (partition: number, watermark: number) => void;
  /** The supervisor completed (its output, or none when it was stopped). */
  readonly onDone: (output: SupervisorOutput | undefined) => void;
}

/** Creates (does not start) the vertex's supervisor. */
export function createVertexActor(run: PipelineRun, vertex: VertexSpec, io: VertexIO, hooks: VertexActorHooks): Actor<VertexMachine> {
  const limits = effectiveLimits(run.spec, vertex);
  const actor = createActor(provideVertexMachine(io), {
    id: vertex.name,
    ...(run.options.inspect === undefined ? {} : { inspect: run.options.inspect }),
    input: {
      vertex: vertex.name,
      partitions: vertex.partitions,
      commitMode: vertex.commit,
      readBatchSize: limits.readBatchSize,
      readTimeoutMs: limits.readTimeout,
      // A reduce vertex checks lateness against the watermark its last epoch committed: one epoch at a time.
      maxInflightEpochs: isReduceVertex(vertex) ? 1 : limits.maxInflightEpochs,
      retry: retryPolicyFor(vertex),
      resultTimeoutMs: vertex.kind === "sink" ? limits.resultTimeout : NO_TIMEOUT_MS,
      // A durable buffer may hold this consumer's entries from before a crash: re-read them first.
      startWithPending: run.durable && vertex.kind !== "source",
      // No commitEpoch step per epoch for sinks without commit(epoch) (forwarders, most sinks).
      sinkCommit: io.sink.commit !== undefined,
      // A reduce vertex's window keepers are the supervisor's children, so the inspector and traces see them.
      ...(io.windows === undefined ? {} : { windowKeepers: true }),
    },
  });
  run.reduceVertices.get(vertex.name)?.attach((partition) => actor.system.get(actorIds.windowKeeper(vertex.name, partition)));
  observe(actor, vertex, run.counts.get(vertex.name)!, run.logger, run.failures);
  actor.on("epochCommitted", (event) => {
    if (event.watermarks === undefined) return;
    for (const [partition, watermark] of Object.entries(event.watermarks)) hooks.onWatermark(Number(partition), watermark);
  });
  actor.subscribe({
    complete: () => hooks.onDone(actor.getSnapshot().output),
    error: (error) => void run.end("failed", `vertex '${vertex.name}' crashed: ${error instanceof Error ? error.message : String(error)}`),
  });
  return actor;
}
