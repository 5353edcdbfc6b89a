/**
 * An independent reference for window counts (issue #13 tests): groups the whole message list at
 * once, the plain way, so the runtime's incremental windows can be checked against it.
 */
import type { Message } from "@weir/actors";

export type WindowShape = { fixed: { length: number } } | { sliding: { length: number; slide: number } } | { session: { timeout: number } };

/** `"<JSON keys>|<start>|<end>"` → count. */
export type WindowCounts = Record<string, number>;

const label = (keys: readonly string[], start: number, end: number) => `${JSON.stringify(keys)}|${start}|${end}`;

export function referenceCounts(messages: readonly Message[], window: WindowShape, keyed: boolean): WindowCounts {
  const counts: WindowCounts = {};
  const add = (keys: readonly string[], start: number, end: number, n = 1) => {
    const at = label(keys, start, end);
    counts[at] = (counts[at] ?? 0) + n;
  };
  const keysOf = (message: Message) => (keyed ? message.keys : []);
  if ("fixed" in window) {
    const { length } = window.fixed;
    for (const message of messages) {
      const start = Math.floor(message.eventTime / length) * length;
      add(keysOf(message), start, start + length);
    }
  } else if ("sliding" in window) {
    const { length, slide } = window.sliding;
    for (const message of messages) {
      for (let start = Math.floor(message.eventTime / slide) * slide; start > message.eventTime - length; start -= slide) add(keysOf(message), start, start + length);
    }
  } else {
    const { timeout } = window.session;
    const byKeys = new Map<string, number[]>();
    for (const message of messages) {
      const at = JSON.stringify(keysOf(message));
      byKeys.set(at, [...(byKeys.get(at) ?? []), message.eventTime]);
    }
    for (const [at, times] of byKeys) {
      const sorted = [...times].sort((a, b) => a - b);
      let first = sorted[0]!;
      let last = first;
      let n = 0;
      for (const time of sorted) {
        if (time >= last + timeout) {
          add(JSON.parse(at) as string[], first, last + timeout, n);
          first = time;
          n = 0;
        }
        last = time;
        n += 1;
      }
      add(JSON.parse(at) as string[], first, last + timeout, n);
    }
  }
  return counts;
}

/** The counts the builtin count reducer emitted: its values are `{"keys","start","end","count"}`. */
export function windowCountsOf(results: readonly Message[]): WindowCounts {
  const counts: WindowCounts = {};
  for (const message of results) {
    const value = JSON.parse(new TextDecoder().decode(message.value)) as { keys: string[]; start: number; end: number; count: number };
    counts[label(value.keys, value.start, value.end)] = value.count;
  }
  return counts;
}
