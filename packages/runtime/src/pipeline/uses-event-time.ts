import type { PipelineSpec, UdfVertexSpec, VertexSpec } from "../spec/pipeline-spec.js";
import type { GroupBySpec } from "../spec/reduce-spec.js";

/**
 * Whether a pipeline runs with watermarks (issue #13): it has a reduce vertex (a udf with
 * `groupBy`) or sets `spec.watermark`. Pipelines without event time publish no marks and send
 * no watermark events, so they cost nothing extra.
 */
export function usesEventTime(spec: PipelineSpec): boolean {
  return spec.spec.watermark !== undefined || spec.spec.vertices.some(isReduceVertex);
}

/** A udf vertex with `groupBy`: it reduces per window. */
export type ReduceVertexSpec = UdfVertexSpec & { readonly groupBy: GroupBySpec };

export function isReduceVertex(vertex: VertexSpec): vertex is ReduceVertexSpec {
  return vertex.kind === "udf" && vertex.groupBy !== undefined;
}
