/**
 * docs/reduce.md's incremental module reducer, made runnable by examples/reduce/sessions.yaml: the
 * average of each message's `seq` per key and session window. Only the accumulator (JSON) is kept
 * in the window's state, never the messages; `merge` joins two sessions a message bridges (session
 * windows refuse an incremental reducer without it).
 *
 *   udf: { module: { path: ./average.ts, export: average }, groupBy: { window: { session: { timeout: 200ms } } } }
 */
import type { Message } from "@weir/actors";
import type { IncrementalReduceFunctions } from "@weir/runtime";

interface Average {
  readonly n: number;
  readonly total: number;
}

const decoder = new TextDecoder();

/** The generator's values are `{"seq":<n>,"partition":<p>}` (padded with spaces). */
function seqOf(message: Message): number {
  const value: unknown = JSON.parse(decoder.decode(message.value));
  const seq = typeof value === "object" && value !== null ? (value as Record<string, unknown>)["seq"] : undefined;
  // A throw here sends the message to the vertex's fallback with this reason.
  if (typeof seq !== "number") throw new Error(`message '${message.id}' has no number field 'seq'`);
  return seq;
}

export const average: IncrementalReduceFunctions<Average> = {
  init: () => ({ n: 0, total: 0 }),
  add: (acc, message) => ({ n: acc.n + 1, total: acc.total + seqOf(message) }),
  merge: (a, b) => ({ n: a.n + b.n, total: a.total + b.total }),
  finish: (acc, keys, window) => [{ value: JSON.stringify({ keys, start: window.start, end: window.end, n: acc.n, average: acc.total / acc.n }) }],
};
