/**
 * The clock for elapsed time. `Date.now()` is the wall clock: NTP, a VM resume or an operator
 * steps it, and an hour's step backwards once stopped claims of a dead replica's entries and
 * delayed a process sink's restart by an hour (issue #10 item 6). `performance.now()` only moves
 * forward, at the rate of real time, whatever happens to the wall clock.
 *
 * Rule: every duration, deadline, backoff and rate uses {@link monotonicNow}; `Date.now()` is
 * kept for timestamps that leave the process (a message's `eventTime`, log times).
 *
 * @example
 * ```ts
 * const started = monotonicNow();
 * await work();
 * const tookMs = elapsedSince(started);
 * ```
 */

/** Milliseconds on a clock that never steps (origin: this process's start). */
export function monotonicNow(): number {
  return performance.now();
}

/** Milliseconds since `start`, a {@link monotonicNow} reading. */
export function elapsedSince(start: number): number {
  return performance.now() - start;
}
