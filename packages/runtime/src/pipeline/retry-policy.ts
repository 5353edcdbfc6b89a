import { defaultRetryPolicy, type RetryPolicy } from "@weir/actors";
import { effectiveOnFailure, type VertexSpec } from "../spec/pipeline-spec.js";

/** The sink session's retry policy for a vertex; a source's forwarder retries buffer errors forever. */
export function retryPolicyFor(vertex: VertexSpec): RetryPolicy {
  if (vertex.kind === "source") return { ...defaultRetryPolicy, onFailure: "retry" };
  const { backoff } = vertex.retryStrategy;
  return {
    intervalMs: backoff.interval,
    factor: backoff.factor,
    steps: backoff.steps,
    capMs: backoff.cap,
    jitter: backoff.jitter,
    onFailure: effectiveOnFailure(vertex),
  };
}
