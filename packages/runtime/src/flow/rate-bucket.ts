/**
 * The token bucket behind every rate limit, as pure functions of a clock reading, so the math is
 * tested without sleeps. The memory store runs them as they are; the Redis store runs the same
 * rules in its Lua script (redis-token-bucket.ts), on Redis's clock.
 *
 *   rate(t) = min + (max − min) · (t − start) / rampUp   while t − start < rampUp, then max
 *             (lowered to the adaptive ceiling when there is one, never below min)
 *   refill  = the area under rate(t) since the last call (trapezoid), capped at one second's worth
 *   take    = floor(tokens) up to `want` once at least a chunk (rate · chunkMs) is there, else 0
 *             and how long until a chunk is: a waiting reader wakes once per chunk, not per token
 *
 * A bucket no one has touched for `idleResetMs` starts over: full at `min`, ramping again.
 */

export interface RateParams {
  /** Messages per second after the ramp. */
  readonly max: number;
  /** Messages per second at the start of the ramp (and the adaptive floor). */
  readonly min: number;
  readonly rampUpMs: number;
  /** The adaptive mode's current ceiling (messages per second); `undefined` = none. */
  readonly ceiling?: number;
}

export interface BucketState {
  readonly tokens: number;
  /** Clock reading of the last call, ms. */
  readonly last: number;
  /** Clock reading at which the ramp started, ms. */
  readonly start: number;
}

export interface TakeResult {
  readonly granted: number;
  /** With nothing granted: ms until a chunk of tokens is there. 0 otherwise. */
  readonly waitMs: number;
  /** The rate in force now, messages per second. */
  readonly rate: number;
  readonly state: BucketState;
}

/** Seconds of tokens the bucket holds at most (the burst a reader may take at once). */
export const BURST_SECONDS = 1;
/** A waiting reader is woken when this many ms of tokens are there (at least one token). */
export const CHUNK_MS = 20;

/**
 * How long a bucket (its ramp) outlives the last read: twice the ramp, at least 10 s. A worker
 * that restarts, or every worker restarting within that time, finds the vertex at its rate; a
 * vertex that stood still longer ramps up again, as its downstream may have gone cold.
 */
export function idleResetMs(rampUpMs: number): number {
  return Math.max(2 * rampUpMs, 10_000);
}

/** The rate in force `sinceStartMs` after the ramp started. */
export function rateAt(params: RateParams, sinceStartMs: number): number {
  const ramped = params.rampUpMs > 0 && sinceStartMs < params.rampUpMs ? params.min + ((params.max - params.min) * Math.max(0, sinceStartMs)) / params.rampUpMs : params.max;
  return params.ceiling === undefined ? ramped : Math.max(params.min, Math.min(ramped, params.ceiling));
}

function capacity(rate: number): number {
  return Math.max(1, rate * BURST_SECONDS);
}

/** The bucket refilled up to `now` (a fresh one, full at the start rate, when `state` is missing or idle too long). */
export function refill(state: BucketState | undefined, now: number, params: RateParams): BucketState {
  if (state === undefined || now - state.last > idleResetMs(params.rampUpMs)) {
    return { tokens: capacity(rateAt(params, 0)), last: now, start: now };
  }
  // A clock that stepped back (a Redis failover to a host behind) adds nothing rather than taking.
  const elapsed = Math.max(0, now - state.last);
  const average = (rateAt(params, state.last - state.start) + rateAt(params, now - state.start)) / 2;
  const tokens = Math.min(capacity(rateAt(params, now - state.start)), state.tokens + (average * elapsed) / 1000);
  return { tokens, last: Math.max(now, state.last), start: state.start };
}

/** Takes up to `want` tokens at `now`. */
export function take(state: BucketState | undefined, now: number, params: RateParams, want: number): TakeResult {
  const full = refill(state, now, params);
  const rate = rateAt(params, full.last - full.start);
  const chunk = Math.min(want, Math.max(1, Math.ceil((rate * CHUNK_MS) / 1000)));
  if (want <= 0) return { granted: 0, waitMs: 0, rate, state: full };
  if (full.tokens >= chunk) {
    const granted = Math.min(want, Math.floor(full.tokens));
    return { granted, waitMs: 0, rate, state: { ...full, tokens: full.tokens - granted } };
  }
  return { granted: 0, waitMs: Math.ceil(((chunk - full.tokens) * 1000) / rate), rate, state: full };
}

/**
 * Gives `count` tokens back (a read that found fewer messages than it was granted), or takes them
 * without asking when `count` is negative (a read that could not wait: the bucket goes into debt,
 * and later reads wait it off).
 */
export function adjust(state: BucketState | undefined, now: number, params: RateParams, count: number): BucketState {
  const full = refill(state, now, params);
  const cap = capacity(rateAt(params, full.last - full.start));
  return { ...full, tokens: Math.min(cap, full.tokens + count) };
}
