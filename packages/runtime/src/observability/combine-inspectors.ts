/**
 * One inspection observer from several (the inspector, a trace recorder, metrics): XState
 * takes a single `inspect` option per actor system.
 */
import type { InspectionEvent, Observer } from "xstate";

export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/**
 * Calls every observer for every event, in the order given; undefined when none is given.
 *
 * @example
 * ```ts
 * createPipeline(spec, { inspect: combineInspectors(metrics.inspect, recorder.inspect) });
 * ```
 */
export function combineInspectors(...observers: ReadonlyArray<InspectionObserver | undefined>): Observer<InspectionEvent> | undefined {
  const nexts = observers
    .filter((observer): observer is InspectionObserver => observer !== undefined)
    .map((observer) => (typeof observer === "function" ? observer : (event: InspectionEvent) => observer.next?.(event)));
  if (nexts.length === 0) return undefined;
  if (nexts.length === 1) return { next: nexts[0]! };
  return {
    next(event) {
      for (const next of nexts) next(event);
    },
  };
}
