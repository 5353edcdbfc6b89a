/**
 * When a sink attempt fails, how long to wait and how often to try again (DESIGN §2.1 step 4).
 * Attempt n+1 waits `min(cap, interval × factor^(n-1) × (1 + jitter × u))`, u ∈ [0, 1).
 * `steps` is the number of attempts in all: `steps: 2` means attempts 1 and 2, never 3.
 */
export interface RetryPolicy {
  readonly intervalMs: number;
  readonly factor: number;
  readonly steps: number;
  readonly capMs: number;
  /** 0..1: the share of the delay added at random. */
  readonly jitter: number;
  /** What happens to a message whose attempts are exhausted. */
  readonly onFailure: "retry" | "fallback" | "drop";
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  intervalMs: 10,
  factor: 2,
  steps: 3,
  capMs: 1000,
  jitter: 0,
  onFailure: "retry",
});

export function maxAttempts(policy: RetryPolicy): number {
  return Math.max(1, policy.steps);
}

/** The wait before attempt `attemptsDone + 1`; `unit` ∈ [0,1) is the jitter draw. */
export function backoffDelay(policy: RetryPolicy, attemptsDone: number, unit: number): number {
  const exponent = Math.max(0, attemptsDone - 1);
  const base = policy.intervalMs * policy.factor ** exponent;
  return Math.round(Math.min(policy.capMs, base * (1 + policy.jitter * unit)));
}

/**
 * A seeded generator (mulberry32) kept in machine context as a plain number, so a replay
 * with the same seed draws the same jitter.
 */
export function nextRandom(state: number): { readonly value: number; readonly state: number } {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: next };
}
