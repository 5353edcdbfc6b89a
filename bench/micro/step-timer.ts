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
