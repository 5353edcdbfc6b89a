/**
 * XState state values as the dashboard shows them: flattened to text, and to the ids of the
 * active state nodes (`batcher.collecting`), which are the ids `machine.toJSON()` gives the nodes.
 */
import type { StateValue } from "xstate";

/** `{ draining: { intake: "flushed", commits: "idle" } }` → `draining.intake.flushed, draining.commits.idle` (regions joined by ", "). */
export function flattenStateValue(value: StateValue): string {
  return leafPaths(value).join(", ");
}

/** Every active node's id, the machine's root included: `batcher`, `batcher.collecting`. */
export function activeNodeIds(machineId: string, value: StateValue): string[] {
  const ids = new Set<string>([machineId]);
  for (const path of leafPaths(value)) {
    const parts = path.split(".");
    for (let i = 1; i <= parts.length; i++) ids.add(`${machineId}.${parts.slice(0, i).join(".")}`);
  }
  return [...ids];
}

function leafPaths(value: StateValue): string[] {
  if (typeof value === "string") return [value];
  return Object.entries(value).flatMap(([key, child]) =>
    child === undefined || (typeof child === "object" && Object.keys(child).length === 0) ? [key] : leafPaths(child).map((rest) => `${key}.${rest}`),
  );
}
