import { describe, expect, it } from "vitest";
import type { AnyStateMachine } from "xstate";
import { batcherMachine, partitionReaderMachine } from "@weir/actors";

interface Node {
  readonly id: string;
  readonly entry: readonly unknown[];
  readonly states: Record<string, Node>;
  readonly transitions: Map<string, readonly Transition[]>;
  readonly always?: readonly Transition[];
}

interface Transition {
  readonly actions: readonly unknown[];
  readonly reenter: boolean;
  readonly target?: readonly Node[];
}

function actionType(machine: AnyStateMachine, action: unknown): unknown {
  const named = machine.implementations.actions as Record<string, { readonly type?: unknown } | undefined>;
  if (typeof action === "string") return named[action]?.type;
  if (typeof action === "object" && action !== null && "type" in action && typeof action.type === "string") return named[action.type]?.type;
  return (action as { readonly type?: unknown } | undefined)?.type;
}

/** Every place (an entry, a transition) of `machine` whose actions match `test`. */
function places(machine: AnyStateMachine, test: (actions: readonly unknown[], transition?: Transition) => boolean): string[] {
  const found: string[] = [];
  const visit = (node: Node) => {
    if (test(node.entry)) found.push(`${node.id} (entry)`);
    for (const [event, transitions] of [...node.transitions.entries(), ["(always)", node.always ?? []] as const]) {
      for (const transition of transitions) if (test(transition.actions, transition)) found.push(`${node.id} on ${event}`);
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root as unknown as Node);
  return found;
}

// Issue 12, session 8: `enqueueActions` builds its `enqueue` helper and a new action object for
// every action it queues, on every step; in the batcher's filling and closing steps that was most of
// the step (step-cost: a filling hand-over 10 → 2.5 µs, a close 18 → 7 µs with named actions). And a
// transition that re-enters its own state makes XState search the transition's domain (~10 % of the
// reader's step) for an exit and an entry that only re-send the grant.
describe("the reader's and the batcher's steps use named actions", () => {
  for (const machine of [partitionReaderMachine, batcherMachine] as const) {
    it(`${machine.id}: no state or transition runs enqueueActions`, () => {
      expect(places(machine, (actions) => actions.some((action) => actionType(machine, action) === "xstate.enqueueActions"))).toEqual([]);
    });
  }

  it("partitionReader: an answer that grants again stays in reading without re-entering it", () => {
    expect(places(partitionReaderMachine, (_, transition) => transition?.reenter === true)).toEqual([]);
  });
});
