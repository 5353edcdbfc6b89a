/** A source vertex's connector: the user's, the spec's built-in, or nothing left to send. */
import { createBuiltinSource } from "../connectors/builtin-sources.js";
import { endedSource, type SourceConnector } from "../connectors/source-connector.js";
import type { VertexSpec } from "../spec/pipeline-spec.js";
import type { PipelineRun } from "./pipeline-run.js";

type SourceVertex = Extract<VertexSpec, { kind: "source" }>;

/**
 * A source that declared end of stream downstream in an earlier run (a Redis buffer keeps the
 * marker) has nothing left to send, and writing again would hit streams that ended. It
 * completes at once — repeating a declaration a crash may have cut short — and the log says how
 * to run the pipeline again from the start.
 */
export async function vertexSource(run: PipelineRun, vertex: SourceVertex): Promise<SourceConnector> {
  if (run.durable) {
    const downstream = run.spec.spec.edges.filter((edge) => edge.from === vertex.name);
    const ended = await Promise.all(downstream.map((edge) => run.bufferOf(edge.to).hasEnded(vertex.name)));
    if (ended.includes(true)) {
      run.logger.warn("source ended in an earlier run on these Redis keys; it sends nothing", {
        vertex: vertex.name,
        hint: "to run the pipeline again from the start, stop its workers and run: weir reset <spec> --yes (or set a new buffer.keyPrefix)",
      });
      return endedSource(vertex.partitions);
    }
  }
  const tls = run.bufferContext()?.tls;
  return run.options.sources?.[vertex.name] ?? createBuiltinSource(vertex, { consumer: run.consumer, logger: run.logger, pipeline: run.name, ...(tls === undefined ? {} : { redisTls: tls }) });
}
