/** Where a vertex writes: the input buffers of the vertices its edges lead to. */
import type { PartitionedBuffer } from "../buffer/index.js";
import { effectiveLimits, type VertexSpec } from "../spec/pipeline-spec.js";
import type { ForwardTarget } from "./forwarder.js";
import { createPartitionChooser } from "./partition-choice.js";
import type { PipelineRun } from "./pipeline-run.js";

export function downstreamBuffers(run: PipelineRun, vertex: VertexSpec): PartitionedBuffer[] {
  return run.spec.spec.edges.filter((edge) => edge.from === vertex.name).map((edge) => run.bufferOf(edge.to));
}

/** One target per outgoing edge, with its partition choice, its `onFull` and its tag condition. */
export function forwardTargets(run: PipelineRun, vertex: VertexSpec): ForwardTarget[] {
  return run.spec.spec.edges
    .filter((edge) => edge.from === vertex.name)
    .map((edge) => {
      const target = run.spec.spec.vertices.find((candidate) => candidate.name === edge.to)!;
      return {
        vertex: target.name,
        buffer: run.bufferOf(target.name),
        onFull: effectiveLimits(run.spec, target).onFull,
        choosePartition: createPartitionChooser(target.partitions),
        onDiscard: (partition: number, count: number) => {
          const perPartition = run.discarded.get(target.name) ?? new Array<number>(target.partitions).fill(0);
          perPartition[partition] = (perPartition[partition] ?? 0) + count;
          run.discarded.set(target.name, perPartition);
        },
        ...(edge.conditions === undefined ? {} : { condition: edge.conditions.tags }),
      };
    });
}
