/**
 * Times every step a machine takes in a running actor system: its `transition` (bound on each
 * machine object, so wrapped per machine) measured with `hrtime`, wall time, garbage collection
 * that falls inside included. What a step costs where it runs, next to `step-cost.ts`'s step on
 * its own (docs/design-notes.md, "What an XState step costs", issue 12).
 */
import type { AnyStateMachine } from "xstate";

export interface StepTimes {
  readonly byMachine: Map<string, { steps: number; micros: number }>;
}

export function createStepTimes(): StepTimes {
  return { byMachine: new Map() };
}

/** `machine` with every `transition` timed into `times` under the machine's id. */
export function timeSteps<M extends AnyStateMachine>(machine: M, times: StepTimes): M {
  const transition = machine.transition.bind(machine) as M["transition"];
  const timed = ((...args: Parameters<M["transition"]>) => {
    const started = process.hrtime.bigint();
    try {
      return (transition as (...a: Parameters<M["transition"]>) => ReturnType<M["transition"]>)(...args);
    } finally {
      const micros = Number(process.hrtime.bigint() - started) / 1000;
      const entry = times.byMachine.get(machine.id) ?? { steps: 0, micros: 0 };
      entry.steps += 1;
      entry.micros += micros;
      times.byMachine.set(machine.id, entry);
    }
  }) as M["transition"];
  Object.defineProperty(machine, "transition", { value: timed, configurable: true, writable: true });
  return machine;
}

/** One line per machine: its transitions (an event each, its microsteps included) per partition-epoch, and µs each. */
export function formatStepTimes(times: StepTimes, partitionEpochs: number): string {
  return [...times.byMachine]
    .map(([id, { steps, micros }]) => `  ${id.padEnd(16)} ${(steps / partitionEpochs).toFixed(2).padStart(6)} transitions per partition-epoch, ${(micros / steps).toFixed(2).padStart(6)} µs each\n`)
    .join("");
}

/**
 * Times every machine's steps in this process, wherever its actors were created (a whole pipeline:
 * `scenarios/weir.ts --time-steps`), keyed by machine id and event type. XState binds `transition`
 * to each machine when it is built, so this wraps it on XState's StateMachine prototype (for the
 * machines built from now on, as `.provide()` does) and on each of `built` (machines built already,
 * at import: a spawned child's machine such as the batcher). A step's own time only: a step of
 * another machine run inside it (a relay delivered synchronously) counts to that machine. What the
 * pipeline adds to `step-cost.ts`'s step on its own shows here: the step's actions executed, and the
 * collections its garbage triggers, which land inside steps (issue 12, session 10).
 */
export function timeAllSteps(built: readonly AnyStateMachine[], times: StepTimes): void {
  type Transition = (this: AnyStateMachine, ...args: unknown[]) => unknown;
  // Time spent in nested steps, per level of nesting, so each step keeps only its own.
  const nested: number[] = [];
  const timed = (transition: Transition): Transition =>
    function timedTransition(this: AnyStateMachine, ...args: unknown[]) {
      const started = performance.now();
      nested.push(0);
      try {
        return transition.apply(this, args);
      } finally {
        const inner = nested.pop()!;
        const elapsed = performance.now() - started;
        if (nested.length > 0) nested[nested.length - 1]! += elapsed;
        const key = `${this.id} ${(args[1] as { type: string }).type}`;
        const entry = times.byMachine.get(key) ?? { steps: 0, micros: 0 };
        entry.steps += 1;
        entry.micros += (elapsed - inner) * 1000;
        times.byMachine.set(key, entry);
      }
    };
  const prototype = Object.getPrototypeOf(built[0]) as { transition: Transition };
  const unbound = prototype.transition;
  prototype.transition = timed(unbound);
  for (const machine of built) {
    Object.defineProperty(machine, "transition", { value: timed(unbound).bind(machine), configurable: true, writable: true });
  }
}

/** One line per machine and event with ≥ `minSteps` steps, costliest first: steps per partition-epoch, µs each, total ms. */
export function formatAllStepTimes(times: StepTimes, partitionEpochs: number, minSteps = 100): string {
  return [...times.byMachine]
    .filter(([, { steps }]) => steps >= minSteps)
    .sort(([, a], [, b]) => b.micros - a.micros)
    .map(([key, { steps, micros }]) => `  ${(steps / partitionEpochs).toFixed(2).padStart(6)} per partition-epoch × ${(micros / steps).toFixed(2).padStart(6)} µs = ${(micros / 1000).toFixed(0).padStart(5)} ms  ${key}\n`)
    .join("");
}
