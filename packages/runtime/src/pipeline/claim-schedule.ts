/**
 * When a partition reader may next try to claim a dead consumer's entries (I5): at most a few
 * times per `claimIdle` per partition, because a claim scans the group's pending list.
 * Monotonic time: a wall clock stepped back by an hour once held every claim back for that
 * hour (issue #10 item 6).
 */
import { monotonicNow } from "../time/monotonic-clock.js";

export interface ClaimSchedule {
  /** True when a claim on `partition` is due now (and counts this as the try). */
  isDue(partition: number): boolean;
}

/** A schedule that allows one try per `claimIdleMs / 4` per partition; never with `claimIdleMs <= 0`. */
export function createClaimSchedule(claimIdleMs: number): ClaimSchedule {
  const lastTry = new Map<number, number>();
  return {
    isDue(partition) {
      if (claimIdleMs <= 0) return false;
      const at = monotonicNow();
      const last = lastTry.get(partition);
      if (last !== undefined && at - last < claimIdleMs / 4) return false;
      lastTry.set(partition, at);
      return true;
    },
  };
}
