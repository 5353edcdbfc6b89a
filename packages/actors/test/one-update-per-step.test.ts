import { describe, expect, it } from "vitest";
import type { AnyStateMachine } from "xstate";
import { batcherMachine, partitionReaderMachine, sinkSessionMachine, supervisorMachine } from "@weir/actors";

interface Node {
  readonly id: string;
  readonly entry: readonly unknown[];
  readonly states: Record<string, Node>;
  readonly transitions: Map<string, readonly Transition[]>;
  readonly always?: readonly Transition[];
  readonly after: readonly Transition[];
}

interface Transition {
  readonly actions: readonly unknown[];
  readonly target?: readonly Node[];
}

/** `assign` and `enqueueActions` (which may enqueue one): the actions that can copy the context. */
const UPDATERS = new Set(["xstate.assign", "xstate.enqueueActions"]);

/**
 * The action a transition lists, as XState will run it: a name (`"recordAck"`) or a named action
 * with params (`{ type: "commitOnAck", params }`) is looked up in the machine's implementations; an
 * inline action (`assign(…)`, a function with its own `type`) is itself.
 */
function resolveAction(machine: AnyStateMachine, action: unknown): { readonly type?: unknown } | undefined {
  const named = machine.implementations.actions as Record<string, { readonly type?: unknown } | undefined>;
  if (typeof action === "string") return named[action];
  if (typeof action === "object" && action !== null && "type" in action && typeof action.type === "string") return named[action.type];
  return action as { readonly type?: unknown } | undefined;
}

function updaterCount(machine: AnyStateMachine, actions: readonly unknown[]): number {
  let count = 0;
  for (const action of actions) {
    const type = resolveAction(machine, action)?.type;
    if (typeof type === "string" && UPDATERS.has(type)) count += 1;
  }
  return count;
}

/** Every transition of `machine` that lists more than one action that may update the context. */
function transitionsWithSeveralUpdates(machine: AnyStateMachine): string[] {
  const found: string[] = [];
  const visit = (node: Node) => {
    const lists: [string, readonly Transition[]][] = [
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

/** Context updates of each transition into `stateId`: its own actions plus the state's entry. */
function updatesOnTheWayTo(machine: AnyStateMachine, stateId: string): string[] {
  const found: string[] = [];
  const visit = (node: Node) => {
    for (const [event, transitions] of [...node.transitions.entries(), ["(always)", node.always ?? []] as const]) {
      for (const transition of transitions) {
        const target = transition.target?.find((candidate) => candidate.id === stateId);
        if (target === undefined) continue;
        found.push(`${node.id} on ${event}: ${updaterCount(machine, transition.actions) + updaterCount(machine, target.entry)}`);
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

  // Entry actions count too: the attempt used to record the all-ok answer on its way to
  // eotReceived and settle it in eotReceived's entry, two copies in one step.
  it("sinkSession: an attempt settles on its way to eotReceived with one context update", () => {
    const ways = updatesOnTheWayTo(sinkSessionMachine, "sinkSession.eotReceived");
    expect(ways.length).toBeGreaterThan(0);
    expect(ways.filter((way) => !way.endsWith(": 1"))).toEqual([]);
  });
});
