/**
 * Where a rate limit's tokens live: {@link memoryTokenBucket} in the process (a limit per worker)
 * or redis-token-bucket.ts (one bucket for every worker of the vertex).
 */
import { monotonicNow } from "../time/monotonic-clock.js";
import { adjust, take, type BucketState, type RateParams } from "./rate-bucket.js";

export interface StoreTake {
  readonly granted: number;
  /** With nothing granted: ms until tokens are expected. */
  readonly waitMs: number;
  /** The rate in force, messages per second. */
  readonly rate: number;
}

export interface TokenStore {
  /** Up to `want` tokens, refilled at the ramp's rate capped by `ceiling` (the adaptive mode's). */
  take(want: number, ceiling: number | undefined): Promise<StoreTake>;
  /** Gives `count` tokens back; a negative `count` takes them without asking. */
  adjust(count: number, ceiling: number | undefined): Promise<void>;
}

/**
 * A bucket in this process. `clock` is for tests (ms, never stepping back).
 *
 * @example
 * ```ts
 * const store = memoryTokenBucket({ max: 500, min: 10, rampUpMs: 10_000 });
 * ```
 */
export function memoryTokenBucket(params: RateParams, clock: () => number = monotonicNow): TokenStore {
  let state: BucketState | undefined;
  const withCeiling = (ceiling: number | undefined): RateParams => (ceiling === undefined ? params : { ...params, ceiling });
  return {
    async take(want, ceiling) {
      const result = take(state, clock(), withCeiling(ceiling), want);
      state = result.state;
      return { granted: result.granted, waitMs: result.waitMs, rate: result.rate };
    },
    async adjust(count, ceiling) {
      state = adjust(state, clock(), withCeiling(ceiling), count);
    },
  };
}
