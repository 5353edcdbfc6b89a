/** The options every connector of a vertex is built with (process sinks and udfs, fallbacks, reduce outputs). */
import { effectiveLimits, type VertexSpec } from "../spec/pipeline-spec.js";
import type { PipelineRun } from "./pipeline-run.js";

export function connectorOptions(run: PipelineRun, vertex: VertexSpec) {
  const bufferContext = run.bufferContext();
  return {
    ...(run.options.logStream === undefined ? {} : { logStream: run.options.logStream }),
    // Process sinks and udfs start one process per partition and log their stderr.
    partitions: vertex.partitions,
    logger: run.logger,
    resultTimeout: effectiveLimits(run.spec, vertex).resultTimeout,
    // Violations of a process map or fallback (no sink session judges them) count like a session's.
    onProtocolError: () => void (run.counts.get(vertex.name)!.protocolErrors += 1),
    // Connectors on the redis buffer's server use its TLS settings (buffer.tls, server-tls.ts).
    ...(bufferContext?.tls === undefined ? {} : { redisTls: bufferContext.tls }),
    onDeduped: (count: number, reason: string) => {
      run.counts.get(vertex.name)!.deduped += count;
      run.failures.record(vertex.name, "deduped", count, reason);
    },
  };
}
