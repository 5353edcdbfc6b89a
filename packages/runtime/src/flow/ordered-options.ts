/**
 * A vertex's key-order settings under `ordered` (issue #15 part 2), or none: what the ordered
 * sink and the forwarder's ordered mapping need from the spec.
 */
import type { Logger } from "../observability/logger.js";
import { effectiveOrdered, type PipelineSpec, type VertexSpec } from "../spec/pipeline-spec.js";
import { retryPolicyFor } from "../pipeline/retry-policy.js";
import type { KeyOrderOptions } from "./ordered-sink.js";

/**
 * `undefined` when the vertex is not ordered. Held-back messages are logged at debug, one line
 * per attempt that held any back: they are retried, never lost, and each ends ok, fallback or
 * dropped like any other message (counted there).
 *
 * @example
 * ```ts
 * const order = keyOrderOf(spec, vertex, logger);
 * const sink = order === undefined ? write : orderSinkFunction(write, order);
 * ```
 */
export function keyOrderOf(spec: PipelineSpec, vertex: VertexSpec, logger: Logger): KeyOrderOptions | undefined {
  if (!effectiveOrdered(spec, vertex)) return undefined;
  const log = logger.child({ vertex: vertex.name });
  return {
    retry: retryPolicyFor(vertex),
    onHeldBack: (count, attempt) => log.debug("messages held back behind a failed message of their key (ordered); retried in order", { count, attempt }),
  };
}
