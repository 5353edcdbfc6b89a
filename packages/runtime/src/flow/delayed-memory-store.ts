/**
 * The memory buffer's {@link DelayedStore}: parked messages wait in the process, one timer per
 * partition armed for the earliest due time. A due message is handed to the partition's reader
 * directly (it never goes back into the memory buffer, whose end of stream may have been declared
 * meanwhile). Like everything in a memory buffer, parked messages die with the process.
 */
import type { ReadEntry } from "@weir/actors";
import { monotonicNow } from "../time/monotonic-clock.js";
import { RELEASED_OFFSET_PREFIX, type DelayedStore, type ParkItem, type Released } from "./delayed-store.js";

interface Waiting {
  readonly item: ParkItem;
  readonly dueAt: number;
}

interface PartitionState {
  /** Sorted by due time. */
  waiting: Waiting[];
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly listeners: Set<() => void>;
}

const NOTHING: Released = Object.freeze({ entries: Object.freeze([]) as readonly ReadEntry[], moved: 0, duplicates: 0 });

export function createMemoryDelayedStore(partitions: number): DelayedStore {
  const states: PartitionState[] = Array.from({ length: partitions }, () => ({ waiting: [], timer: undefined, listeners: new Set() }));
  let sequence = 0;
  let closed = false;

  const arm = (state: PartitionState) => {
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    const first = state.waiting[0];
    if (first === undefined || closed) return;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      for (const listener of [...state.listeners]) listener();
      // Re-armed by the next release; armed again here in case no reader takes them now.
      if (state.waiting.length > 0 && state.waiting[0]!.dueAt > monotonicNow()) arm(state);
    }, Math.max(0, Math.ceil(first.dueAt - monotonicNow())));
    state.timer.unref?.();
  };

  return {
    durable: false,
    async park(partition, items) {
      const state = states[partition]!;
      const now = monotonicNow();
      for (const item of items) state.waiting.push({ item, dueAt: now + item.delayMs });
      state.waiting.sort((a, b) => a.dueAt - b.dueAt);
      arm(state);
    },
    async parkedAlready(_partition, identities) {
      return identities.map(() => false);
    },
    async release(partition, max) {
      const state = states[partition]!;
      const now = monotonicNow();
      let due = 0;
      while (due < state.waiting.length && due < max && state.waiting[due]!.dueAt <= now) due += 1;
      if (due === 0) return NOTHING;
      const taken = state.waiting.splice(0, due);
      arm(state);
      const entries = taken.map(({ item }): ReadEntry => ({ offset: `${RELEASED_OFFSET_PREFIX}${(sequence += 1)}`, message: item.message }));
      return { entries, moved: 0, duplicates: 0 };
    },
    waiting(partition) {
      return states[partition]!.waiting.length;
    },
    waitForDue(partition, ms, signal) {
      const state = states[partition]!;
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          state.listeners.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        state.listeners.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
    onDue(partition, listener) {
      const state = states[partition]!;
      state.listeners.add(listener);
      return () => state.listeners.delete(listener);
    },
    async close() {
      closed = true;
      for (const state of states) {
        if (state.timer !== undefined) clearTimeout(state.timer);
        state.timer = undefined;
      }
    },
  };
}
