import { ConnectorError } from "../connectors/connector-error.js";
import type { PipelineSpec, VertexSpec } from "../spec/pipeline-spec.js";

/** The vertices this process runs (`--vertices`): all by default; a subset needs a buffer other processes reach. */
export function selectVertices(spec: PipelineSpec, names: readonly string[] | undefined): readonly VertexSpec[] {
  if (names === undefined) return spec.spec.vertices;
  if (spec.spec.buffer.type === "memory") {
    throw new ConnectorError(
      "UNSUPPORTED_DEPLOYMENT",
      "running only some vertices needs buffers other processes can reach: set spec.buffer to { type: redis, url: … }",
    );
  }
  const known = spec.spec.vertices.map((vertex) => vertex.name);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new ConnectorError("UNKNOWN_VERTEX", `no vertex named ${unknown.map((n) => `'${n}'`).join(", ")} in pipeline '${spec.metadata.name}'; vertices are: ${known.join(", ")}`);
  }
  return spec.spec.vertices.filter((vertex) => names.includes(vertex.name));
}
