import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, maxAttempts, nextRandom, type RetryPolicy } from "../src/retry-policy.js";

const policy = (change: Partial<RetryPolicy> = {}): RetryPolicy => ({
  intervalMs: 100,
  factor: 3,
  steps: 2,
  capMs: 10_000,
  jitter: 0,
  onFailure: "retry",
  ...change,
});

describe("maxAttempts", () => {
  it("is `steps`: the number of attempts in all, the first included", () => {
    expect(maxAttempts(policy({ steps: 1 }))).toBe(1);
    expect(maxAttempts(policy({ steps: 2 }))).toBe(2);
    expect(maxAttempts(policy({ steps: 7 }))).toBe(7);
  });

  it("is at least 1: a message always gets its first attempt", () => {
    expect(maxAttempts(policy({ steps: 0 }))).toBe(1);
    expect(maxAttempts(policy({ steps: -3 }))).toBe(1);
  });
});

describe("backoffDelay", () => {
  it("waits interval × factor^(n-1) before attempt n+1", () => {
    const p = policy();
    expect([1, 2, 3, 4].map((done) => backoffDelay(p, done, 0))).toEqual([100, 300, 900, 2_700]);
  });

  it("treats 0 attempts done like 1 (no negative exponent)", () => {
    expect(backoffDelay(policy(), 0, 0)).toBe(100);
  });

  it("caps the delay at capMs, jitter included", () => {
    const p = policy({ capMs: 500, jitter: 1 });
    expect([1, 2, 3, 10].map((done) => backoffDelay(p, done, 0))).toEqual([100, 300, 500, 500]);
    expect(backoffDelay(p, 2, 0.99)).toBe(500);
  });

  it("adds jitter × unit of the base, rounded to whole ms", () => {
    const p = policy({ jitter: 0.5 });
    expect(backoffDelay(p, 1, 0)).toBe(100);
    expect(backoffDelay(p, 1, 0.5)).toBe(125);
    expect(backoffDelay(p, 2, 0.999)).toBe(450);
  });

  it("stays within [min(cap, base), min(cap, base × (1 + jitter))] and never shrinks with more attempts", () => {
    fc.assert(
      fc.property(
        fc.record({
          intervalMs: fc.integer({ min: 1, max: 1_000 }),
          factor: fc.double({ min: 1, max: 4, noNaN: true }),
          capMs: fc.integer({ min: 1, max: 60_000 }),
          jitter: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (change, done, unit) => {
          const p = policy(change);
          const base = p.intervalMs * p.factor ** (done - 1);
          const delay = backoffDelay(p, done, unit);
          expect(delay).toBeGreaterThanOrEqual(Math.round(Math.min(p.capMs, base)));
          expect(delay).toBeLessThanOrEqual(Math.round(Math.min(p.capMs, base * (1 + p.jitter))));
          expect(backoffDelay(p, done + 1, unit)).toBeGreaterThanOrEqual(delay);
        },
      ),
    );
  });
});

describe("nextRandom", () => {
  const draw = (seed: number, n: number) => {
    const values: number[] = [];
    let state = seed;
    for (let i = 0; i < n; i += 1) {
      const next = nextRandom(state);
      values.push(next.value);
      state = next.state;
    }
    return values;
  };

  it("draws in [0, 1)", () => {
    for (const value of draw(7, 1_000)) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });

  it("draws the same sequence from the same seed, another from another seed", () => {
    expect(draw(42, 20)).toEqual(draw(42, 20));
    expect(draw(43, 20)).not.toEqual(draw(42, 20));
  });
});
