/**
 * Window assignment of a reduce vertex (issue #13, DESIGN §8): which `[start, end)` windows a
 * message belongs to, the field that names a (keys, window) in the state, and the ids of its
 * results. Pure functions: a restarted worker computes the same fields and ids.
 *
 *   fixed    [k·length, (k+1)·length)           the one window covering t
 *   sliding  [k·slide, k·slide + length)        every window covering t
 *   session  [t, t + timeout) per key           merged with every session of the key it overlaps
 */
import type { Message } from "@weir/actors";
import type { GroupBySpec, WindowSpec } from "../spec/reduce-spec.js";

/** A window `[start, end)` in event time (ms). */
export interface WindowRange {
  readonly start: number;
  readonly end: number;
}

/** The windows an event time belongs to; for a session, the message's own `[t, t + timeout)`. */
export function windowsOf(window: WindowSpec, eventTime: number): WindowRange[] {
  if ("fixed" in window) {
    const start = floorTo(eventTime, window.fixed.length);
    return [{ start, end: start + window.fixed.length }];
  }
  if ("sliding" in window) {
    const { length, slide } = window.sliding;
    const ranges: WindowRange[] = [];
    // Every k with k·slide <= t < k·slide + length, oldest first.
    for (let start = floorTo(eventTime - length, slide) + slide; start <= eventTime; start += slide) {
      if (start + length > eventTime) ranges.push({ start, end: start + length });
    }
    return ranges;
  }
  return [{ start: eventTime, end: eventTime + window.session.timeout }];
}

export function isSessionWindow(window: WindowSpec): window is Extract<WindowSpec, { session: unknown }> {
  return "session" in window;
}

/** The keys a message is windowed under: its own when keyed, none (`[]`) when not. */
export function windowKeysOf(groupBy: Pick<GroupBySpec, "keyed">, message: Message): readonly string[] {
  return groupBy.keyed ? message.keys : [];
}

/** Keys as one comparable string: `["a","b"]` is neither `["a"]` nor the key `'["a","b"]'`. */
export function keysId(keys: readonly string[]): string {
  return JSON.stringify(keys);
}

/**
 * The state field of a (keys, window): `<start>:<end>:<JSON keys>`, e.g. `1000:2000:["eu"]`.
 * Stable across processes and versions; {@link parseWindowField} reads it back.
 */
export function windowField(keys: readonly string[], range: WindowRange): string {
  return `${range.start}:${range.end}:${keysId(keys)}`;
}

/** A field's keys and window, or undefined when it is no window field. */
export function parseWindowField(field: string): ({ readonly keys: readonly string[] } & WindowRange) | undefined {
  const match = /^(-?\d+):(-?\d+):(\[.*\])$/s.exec(field);
  if (match === null) return undefined;
  let keys: unknown;
  try {
    keys = JSON.parse(match[3]!);
  } catch {
    return undefined;
  }
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) return undefined;
  return { keys, start: Number(match[1]), end: Number(match[2]) };
}

/**
 * The id of a window's result: a pure function of (vertex, keys, start, end), so a result
 * emitted again after a crash is dropped by buffer dedup. `index` is given for the i-th of
 * several results (`:<i>`); a window's only result has none.
 *
 * @example
 * resultId("counts", ["eu"], { start: 1000, end: 2000 });    // 'counts:1000:2000:["eu"]'
 * resultId("counts", ["eu"], { start: 1000, end: 2000 }, 1); // 'counts:1000:2000:["eu"]:1'
 */
export function resultId(vertex: string, keys: readonly string[], range: WindowRange, index?: number): string {
  const base = `${vertex}:${windowField(keys, range)}`;
  return index === undefined ? base : `${base}:${index}`;
}

/** Half-open ranges overlap: `[0, 10)` and `[10, 20)` do not (a gap of exactly timeout ends a session). */
export function overlaps(a: WindowRange, b: WindowRange): boolean {
  return a.start < b.end && b.start < a.end;
}

/** The smallest range covering all of `ranges` (at least one). */
export function coverOf(ranges: readonly WindowRange[]): WindowRange {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const range of ranges) {
    start = Math.min(start, range.start);
    end = Math.max(end, range.end);
  }
  return { start, end };
}

/** Largest multiple of `step` at or below `value` (negative times too). */
function floorTo(value: number, step: number): number {
  return Math.floor(value / step) * step;
}
