/**
 * Where a `bullmq` queue (source, sink or fallback) lives: its own `url`, or — when it has none —
 * the Redis of the pipeline's `buffer: { type: redis }`. A queue without a url in a pipeline on
 * the memory buffer has nowhere to live, which is a spec error (reported with every other issue);
 * a valid spec comes out of parsing with every bullmq `url` filled in, so the runtime never
 * guesses.
 */
import { isRecord, type IssueDraft } from "./issue-draft.js";
import type { BufferSpec, BullmqQueueSpec, SinkConnectorSpec, SourceSpec, VertexSpec } from "./pipeline-spec.js";

const HINT = 'add url: "redis://<host>:6379" to it, or set spec.buffer to { type: redis, url: … }: a bullmq queue defaults to the buffer\'s Redis';

/**
 * A bullmq queue without `url` while the buffer is not redis. Paths are relative to `spec`.
 *
 * Runs on a partly parsed body: a valid vertex has already been reshaped (its `sink.fallback`
 * moved to `fallback`), so a sink vertex's fallback is reported at the vertex, where it can be
 * found whichever of the two places the user wrote it in.
 */
export function bullmqUrlIssues(body: unknown): IssueDraft[] {
  if (!isRecord(body) || !Array.isArray(body["vertices"])) return [];
  const buffer = body["buffer"];
  if (isRecord(buffer) && buffer["type"] === "redis") return [];
  const issues: IssueDraft[] = [];
  const missing = (path: readonly (string | number)[], connector: unknown) => {
    const queue = isRecord(connector) ? connector["bullmq"] : undefined;
    if (!isRecord(queue) || queue["url"] !== undefined) return;
    issues.push({ path: [...path, "bullmq", "url"], message: "is required: the buffer is memory, so there is no Redis url to default to", hint: HINT });
  };
  body["vertices"].forEach((vertex: unknown, index) => {
    if (!isRecord(vertex)) return;
    const at = ["vertices", index];
    missing([...at, "source"], vertex["source"]);
    const sink = vertex["sink"];
    missing([...at, "sink"], sink);
    if (isRecord(sink)) missing([...at, "sink", "fallback"], sink["fallback"]);
    const fallback = vertex["fallback"];
    const reshapedSink = vertex["kind"] === "sink";
    if (!reshapedSink) {
      missing([...at, "fallback"], fallback);
      return;
    }
    const queue = isRecord(fallback) && isRecord(fallback["bullmq"]) ? fallback["bullmq"] : undefined;
    if (queue !== undefined && queue["url"] === undefined) {
      issues.push({
        path: at,
        message: `the fallback bullmq queue '${String(queue["queue"])}' has no url, and the buffer is memory, so there is no Redis url to default to`,
        hint: HINT,
      });
    }
  });
  return issues;
}

/** The parsed body with every bullmq queue's missing `url` set to the redis buffer's url. */
export function withBullmqUrls<T extends { readonly buffer: BufferSpec; readonly vertices: readonly VertexSpec[] }>(body: T): T {
  const buffer = body.buffer;
  if (buffer.type !== "redis") return body;
  const fill = (queue: BullmqQueueSpec): BullmqQueueSpec => (queue.url === undefined ? { ...queue, url: buffer.url } : queue);
  const sink = (connector: SinkConnectorSpec): SinkConnectorSpec => ("bullmq" in connector ? { bullmq: fill(connector.bullmq) } : connector);
  const source = (connector: SourceSpec): SourceSpec => ("bullmq" in connector ? { bullmq: fill(connector.bullmq) } : connector);
  const vertices = body.vertices.map((vertex): VertexSpec => {
    if (vertex.kind === "source") return { ...vertex, source: source(vertex.source) };
    const fallback = vertex.fallback === undefined ? {} : { fallback: sink(vertex.fallback) };
    if (vertex.kind === "udf") return { ...vertex, ...fallback };
    return { ...vertex, sink: sink(vertex.sink), ...fallback };
  });
  return { ...body, vertices };
}
