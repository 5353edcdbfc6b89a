/**
 * What the inspector says of a machine's microsteps, for the tests that count steps or look at the
 * transitions a step took. Exists because the step-counting tests each decoded the inspection
 * event (XState's `_transitions` is not in its public type) the same way.
 */
import type { InspectionEvent } from "xstate";

/** What a microstep's inspection says of one transition it took. */
export interface StepTransition {
  readonly source: { readonly id: string };
  /** Undefined for a targetless transition. */
  readonly target?: readonly unknown[];
  readonly eventType: string;
}

/** What a microstep's inspection says of the snapshot it left. */
export interface StepSnapshot {
  readonly value: unknown;
  readonly context: unknown;
}

/**
 * An inspector calling `onStep` for each microstep of the machines with id `machineId`
 * (`"partitionReader"`, `"batcher"`, `"sinkSession"`, `"supervisor"`), with its event, the
 * transitions it took (XState's `_transitions`, which its public type leaves out) and the snapshot
 * it left the machine in.
 */
export function microstepsOf(
  machineId: string,
  onStep: (event: { readonly type: string }, transitions: readonly StepTransition[], snapshot: StepSnapshot) => void,
): (inspection: InspectionEvent) => void {
  return (inspection) => {
    if (inspection.type !== "@xstate.microstep") return;
    const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
    if (logic?.id !== machineId) return;
    const transitions = (inspection as unknown as { _transitions: readonly StepTransition[] })._transitions;
    onStep(inspection.event, transitions, inspection.snapshot as unknown as StepSnapshot);
  };
}

/** The ids of the states an eventless transition left, from `transitions`, whose ids match `source`. */
export function eventlessFrom(transitions: readonly StepTransition[], source: RegExp): string[] {
  return transitions.filter((t) => t.eventType === "" && source.test(t.source.id)).map((t) => t.source.id);
}

