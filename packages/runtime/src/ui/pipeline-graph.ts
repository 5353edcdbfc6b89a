/**
 * The pipeline's graph as the dashboard draws it, computed from the spec alone (so `weir ui`
 * draws it before any worker reported).
 */
import { effectiveLimits, type PipelineSpec, type VertexSpec } from "../spec/pipeline-spec.js";
import type { GraphVertex, PipelineGraph } from "./dashboard-types.js";

export function pipelineGraph(spec: PipelineSpec): PipelineGraph {
  const vertices = spec.spec.vertices;
  return {
    vertices: vertices.map((vertex) => graphVertex(spec, vertex)),
    edges: spec.spec.edges.map((edge) => ({
      from: edge.from,
      to: edge.to,
      conditions: edge.conditions === undefined ? null : { operator: edge.conditions.tags.operator, values: [...edge.conditions.tags.values] },
      partitions: vertices.find((vertex) => vertex.name === edge.to)?.partitions ?? 1,
    })),
  };
}

function graphVertex(spec: PipelineSpec, vertex: VertexSpec): GraphVertex {
  const limits = effectiveLimits(spec, vertex);
  const input = vertex.kind !== "source";
  return {
    name: vertex.name,
    kind: vertex.kind,
    partitions: vertex.partitions,
    runs: runsOf(vertex),
    onFull: input ? limits.onFull : null,
    bufferMaxLength: input ? limits.bufferMaxLength : null,
    fallback: vertex.kind !== "source" && vertex.fallback !== undefined ? firstKey(vertex.fallback) : null,
  };
}

function runsOf(vertex: VertexSpec): string {
  if (vertex.kind === "source") return firstKey(vertex.source);
  if (vertex.kind === "sink") return firstKey(vertex.sink);
  const udf = vertex.udf as Record<string, unknown>;
  if ("builtin" in udf) return `builtin:${(udf["builtin"] as { name: string }).name}`;
  return firstKey(udf);
}

function firstKey(value: object): string {
  return Object.keys(value)[0] ?? "?";
}
