import { describe, expect, it } from "vitest";
import type { AnyStateMachine } from "xstate";
import { batcherMachine, partitionReaderMachine, sinkSessionMachine, supervisorMachine } from "@weir/actors";

interface Node {
  readonly id: string;
  readonly states: Record<string, Node>;
  readonly transitions: Map<string, readonly { readonly actions: readonly unknown[] }[]>;
  readonly always?: readonly { readonly actions: readonly unknown[] }[];
  readonly after: readonly { readonly eventType: string; readonly actions: readonly unknown[] }[];
}

/** `assign` and `enqueueActions` (which may enqueue one): the actions that can copy the context. */
const UPDATERS = new Set(["xstate.assign", "xstate.enqueueActions"]);

function updaterCount(machine: AnyStateMachine, actions: readonly unknown[]): number {
  const named = machine.implementations.actions as Record<string, { type?: string } | undefined>;
  let count = 0;
  for (const action of actions) {
    const resolved = typeof action === "string" ? named[action] : typeof action === "object" && action !== null && "type" in action && typeof action.type === "string" && !("resolve" in action) ? named[action.type] : action;
    const type = (resolved as { type?: unknown } | undefined)?.type;
    if (typeof type === "string" && UPDATERS.has(type)) count += 1;
  }
  return count;
}

/** Every transition of `machine` that lists more than one action that may update the context. */
function transitionsWithSeveralUpdates(machine: AnyStateMachine): string[] {
  const found: string[] = [];
  const visit = (node: Node) => {
    const lists: [string, readonly { readonly actions: readonly unknown[] }[]][] = [
      ...node.transitions.entries(),
      ["(always)", node.always ?? []],
      ["(after)", node.after],
    ];
    for (const [event, transitions] of lists) {
      for (const transition of transitions) {
        const n = updaterCount(machine, transition.actions);
        if (n > 1) found.push(`${node.id} on ${event}: ${n}`);
      }
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root as unknown as Node);
  return found;
}

// Issue 12: XState's `assign` copies the context and rebuilds the whole snapshot (state value,
// configuration sets, tags) — a few µs and ~1.5 KB each in a running pipeline. A transition whose
// bookkeeping was split over several assigns paid that several times in one step; each now makes
// one context update (an `enqueueActions` that assigns once, or one `assign`).
describe("one context update per transition", () => {
  for (const machine of [supervisorMachine, partitionReaderMachine, batcherMachine, sinkSessionMachine] as const) {
    it(`${machine.id}: no transition lists more than one assign`, () => {
      expect(transitionsWithSeveralUpdates(machine)).toEqual([]);
    });
  }
});
