/**
 * Rules of reduce vertices (a udf with `groupBy`, issue #13) inside one vertex, paths relative to
 * the vertex. Read as `unknown`: they run on a partly valid vertex too.
 */
import { isRecord, type IssueDraft } from "./issue-draft.js";
import { parseDuration } from "./duration.js";

/** Built-in udfs that reduce (need `groupBy`); the rest map. */
export const BUILTIN_REDUCERS: readonly string[] = ["count", "sum"];

export function reduceVertexIssues(vertex: unknown): IssueDraft[] {
  if (!isRecord(vertex) || !isRecord(vertex["udf"])) return [];
  const udf = vertex["udf"];
  const groupBy = udf["groupBy"];
  const builtin = isRecord(udf["builtin"]) ? udf["builtin"] : undefined;
  const name = typeof builtin?.["name"] === "string" ? builtin["name"] : undefined;
  const issues: IssueDraft[] = [...builtinIssues(builtin, name, groupBy !== undefined)];
  if (!isRecord(groupBy)) return issues;
  const partitions = vertex["partitions"];
  if (groupBy["keyed"] === false && typeof partitions === "number" && partitions > 1) {
    issues.push({
      path: ["udf", "groupBy", "keyed"],
      message: `keyed: false puts every message of a time range in one window, which needs one partition, but the vertex has partitions: ${partitions}`,
      hint: "set partitions: 1 on this vertex, or keyed: true to window per key",
    });
  }
  if (vertex["ordered"] !== undefined) {
    issues.push({
      path: ["ordered"],
      message: "a reduce vertex takes no ordered: it groups each key's messages into windows already",
      hint: "remove ordered: from this vertex (set ordered: { enabled: false } here if spec.ordered is on)",
    });
  }
  const sliding = isRecord(groupBy["window"]) && isRecord(groupBy["window"]["sliding"]) ? groupBy["window"]["sliding"] : undefined;
  const length = msOf(sliding?.["length"]);
  const slide = msOf(sliding?.["slide"]);
  if (length !== undefined && slide !== undefined && slide > length) {
    issues.push({
      path: ["udf", "groupBy", "window", "sliding", "slide"],
      message: `slide (${slide}ms) is longer than length (${length}ms): messages between windows would belong to none`,
      hint: "make slide at most length; use fixed: { length } for windows that do not overlap",
    });
  }
  return issues;
}

function builtinIssues(builtin: Readonly<Record<string, unknown>> | undefined, name: string | undefined, grouped: boolean): IssueDraft[] {
  if (builtin === undefined || name === undefined) return [];
  const issues: IssueDraft[] = [];
  const reducer = BUILTIN_REDUCERS.includes(name);
  if (reducer && !grouped) {
    issues.push({
      path: ["udf", "builtin", "name"],
      message: `builtin ${name} is a reducer and needs groupBy`,
      hint: "add groupBy: { window: { fixed: { length: 1s } } } beside builtin in udf",
    });
  }
  if (!reducer && grouped) {
    issues.push({
      path: ["udf", "groupBy"],
      message: `builtin ${name} is a map function and takes no groupBy`,
      hint: `use builtin: { name: count } or { name: sum, field: … } to reduce, or remove groupBy`,
    });
  }
  if (name === "sum" && typeof builtin["field"] !== "string") {
    issues.push({ path: ["udf", "builtin", "field"], message: "builtin sum needs field: the JSON number field of each message to add up", hint: "add field: amount (a top-level field of the message's JSON value)" });
  }
  if (name !== "sum" && builtin["field"] !== undefined) {
    issues.push({ path: ["udf", "builtin", "field"], message: `builtin ${name} takes no field`, hint: "remove field (only sum adds up a field)" });
  }
  return issues;
}

function msOf(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  return typeof value === "string" ? parseDuration(value) : undefined;
}
