import { exactlyOneIssues, presentKeys } from "./exactly-one.js";
import { isRecord, type IssueDraft } from "./issue-draft.js";

export const VERTEX_ROLES = ["source", "udf", "sink"] as const;
export type VertexRole = (typeof VERTEX_ROLES)[number];

/** The role a vertex's keys give it; `undefined` when it has none or several. */
export function vertexRole(vertex: unknown): VertexRole | undefined {
  const present = presentKeys(vertex, VERTEX_ROLES);
  return present.length === 1 ? present[0] : undefined;
}

const RETRY_KEYS = ["retryStrategy", "fallback"] as const;

const FALLBACK_HINT = "add fallback: with a sink, e.g. fallback: { jsonl: { path: ./dead-letters.jsonl } }";

/**
 * Rules inside one vertex: exactly one role; retryStrategy, fallback and schema only on udf and
 * sink vertices, retryStrategy and fallback only in one place; `onFailure: fallback` and
 * `schema` only with a fallback sink; `exactlyOnce` never on a fallback.
 * Paths are relative to the vertex.
 */
export function vertexIssues(vertex: unknown, priorIssues: readonly unknown[]): IssueDraft[] {
  const issues = exactlyOneIssues("a vertex", VERTEX_ROLES, vertex, priorIssues, {
    none: "add source: to produce messages, udf: to transform them, or sink: to write them out",
    many: "split it into one vertex per role, joined by an edge",
  });
  if (!isRecord(vertex)) return issues;
  const role = vertexRole(vertex);
  const sink = isRecord(vertex["sink"]) ? vertex["sink"] : undefined;

  for (const key of RETRY_KEYS) {
    if (role === "source" && vertex[key] !== undefined) {
      issues.push({
        path: [key],
        message: `a source vertex takes no ${key}`,
        hint: `${key} applies to udf and sink vertices; remove it`,
      });
    }
    if (vertex[key] !== undefined && sink?.[key] !== undefined) {
      issues.push({
        path: ["sink", key],
        message: `${key} is set both on the vertex and inside sink`,
        hint: "keep one of them (the vertex level works for udf vertices too)",
      });
    }
  }

  if (role === "source" && vertex["schema"] !== undefined) {
    issues.push({
      path: ["schema"],
      message: "a source vertex takes no schema",
      hint: "put schema: on the udf or sink vertices that read the source's messages",
    });
  }

  if (role === "udf" || role === "sink") {
    const onVertex = vertex["retryStrategy"] !== undefined;
    const retryStrategy = onVertex ? vertex["retryStrategy"] : sink?.["retryStrategy"];
    const fallback = vertex["fallback"] ?? sink?.["fallback"];
    if (isRecord(retryStrategy) && retryStrategy["onFailure"] === "fallback" && fallback === undefined) {
      issues.push({
        path: [...(onVertex ? [] : ["sink"]), "retryStrategy", "onFailure"],
        message: "onFailure is fallback, but the vertex has no fallback sink",
        hint: `${FALLBACK_HINT}, or use onFailure: retry or drop`,
      });
    }
    // A message that fails the schema goes to the fallback; without one it would only be logged.
    if (vertex["schema"] !== undefined && fallback === undefined) {
      issues.push({
        path: ["schema"],
        message: "a message schema needs a fallback sink: the messages that fail it are written there",
        hint: `${FALLBACK_HINT} or { bullmq: { queue: dead-letters } }`,
      });
    }
    const fallbackAt: Array<[readonly string[], unknown]> = [
      [["fallback"], vertex["fallback"]],
      [["sink", "fallback"], sink?.["fallback"]],
    ];
    for (const [at, candidate] of fallbackAt) {
      const jsonl = isRecord(candidate) ? candidate["jsonl"] : undefined;
      if (isRecord(jsonl) && jsonl["exactlyOnce"] === true) {
        issues.push({
          path: [...at, "jsonl", "exactlyOnce"],
          message: "exactlyOnce applies to a vertex's sink, not to a fallback",
          hint: "a fallback is written before its epoch commits, and only a sink's lines are written at the commit; remove exactlyOnce here",
        });
      }
    }
  }
  return issues;
}
