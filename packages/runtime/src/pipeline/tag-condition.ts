import type { EdgeSpec } from "../spec/pipeline-spec.js";

export type TagCondition = NonNullable<EdgeSpec["conditions"]>["tags"];

/** Numaflow's conditional forwarding: `or` any tag matches, `and` all match, `not` none matches. */
export function matchesTags(condition: TagCondition | undefined, tags: readonly string[] | undefined): boolean {
  if (condition === undefined) return true;
  const present = tags ?? [];
  switch (condition.operator) {
    case "or":
      return condition.values.some((value) => present.includes(value));
    case "and":
      return condition.values.every((value) => present.includes(value));
    case "not":
      return !condition.values.some((value) => present.includes(value));
  }
}
