/**
 * The wall clock, for event time. Watermarks are event time, and event time is wall-clock ms
 * (a message's `eventTime`), so "how far event time may have got by now" needs `Date.now()`;
 * durations never do (monotonic-clock.ts). One place, so the Date.now() guard has one entry.
 */

/** Wall-clock ms since the Unix epoch: for timestamps and event time, never for durations. */
export function wallNow(): number {
  return Date.now();
}
