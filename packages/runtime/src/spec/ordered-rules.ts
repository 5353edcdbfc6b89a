/**
 * Rules of `ordered` (issue #15 part 2) across the spec: it applies to udf and sink vertices (a
 * source reads each partition in order already), and an ordered sink must be one Weir calls as a
 * function — a process sink answers whole attempts over its own protocol and cannot be fed one
 * message per key at a time (flow/ordered-sink.ts).
 */
import { isRecord, type IssueDraft } from "./issue-draft.js";
import { vertexRole } from "./vertex-rules.js";

/**
 * Issues of `ordered`, paths relative to `spec`. Reads its input as `unknown`: it runs on a
 * partly valid body too.
 *
 * @example
 * ```ts
 * orderedIssues({ ordered: { enabled: true }, vertices: [{ name: "out", sink: { process: { command: ["python3", "sink.py"] } } }] });
 * // [{ path: ["vertices", 0, "sink", "process"], message: "an ordered vertex cannot use a process sink …", hint: "…" }]
 * ```
 */
export function orderedIssues(body: unknown): IssueDraft[] {
  if (!isRecord(body) || !Array.isArray(body["vertices"])) return [];
  const spec = enabledOf(body["ordered"]);
  const issues: IssueDraft[] = [];
  body["vertices"].forEach((vertex: unknown, index) => {
    if (!isRecord(vertex)) return;
    const role = vertexRole(vertex);
    const ordered = enabledOf(vertex["ordered"]) ?? spec ?? false;
    const sink = vertex["sink"];
    if (role === "sink" && ordered && isRecord(sink) && sink["process"] !== undefined) {
      issues.push({
        path: ["vertices", index, "sink", "process"],
        message: `an ordered vertex cannot use a process sink: ordered sends each key's messages one wave at a time, and a process sink answers whole attempts`,
        hint: `set ordered: { enabled: false } on this vertex${vertex["ordered"] === undefined ? " (spec.ordered turns it on for every vertex)" : ""}, or use a module sink`,
      });
    }
  });
  return issues;
}

/** Issues of one vertex's `ordered`, paths relative to the vertex: a source takes none. */
export function orderedVertexIssues(vertex: unknown): IssueDraft[] {
  if (!isRecord(vertex) || vertex["ordered"] === undefined || vertexRole(vertex) !== "source") return [];
  return [
    {
      path: ["ordered"],
      message: "a source vertex takes no ordered",
      hint: "a source reads each partition in order already; put ordered: on the udf and sink vertices (or on spec for all of them)",
    },
  ];
}

/** `ordered.enabled` as the runtime reads it (`enabled` defaults to true); undefined when absent. */
function enabledOf(ordered: unknown): boolean | undefined {
  if (!isRecord(ordered)) return undefined;
  return ordered["enabled"] !== false;
}
