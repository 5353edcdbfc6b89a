/**
 * A closed window's results as messages (issue #13): `eventTime = end − 1`, the window's keys
 * unless a result sets its own, and ids that are a pure function of (vertex, keys, window) so a
 * re-emission after a crash is dropped by buffer dedup.
 */
import type { Message } from "@weir/actors";
import type { MapResult } from "../udf/map-function.js";
import { ReduceError } from "./reduce-error.js";
import { resultId, type WindowRange } from "./windows.js";

const encoder = new TextEncoder();

export interface WindowResults {
  readonly messages: readonly Message[];
  /** Each result's tags (conditional forwarding), parallel to `messages`; absent when none has any. */
  readonly tags?: ReadonlyArray<readonly string[] | undefined>;
}

/** `what` names the vertex, reducer and window in errors. */
export function toResultMessages(vertex: string, keys: readonly string[], window: WindowRange, results: unknown, what: string): WindowResults {
  if (!Array.isArray(results)) {
    throw new ReduceError("REDUCER_FAILED", `${what} returned ${describe(results)}; return an array of { value, keys?, tags? } (empty for no result)`);
  }
  const messages: Message[] = [];
  const tags: Array<readonly string[] | undefined> = [];
  results.forEach((result: Partial<MapResult> | null, index) => {
    const value = result?.value;
    if (!(value instanceof Uint8Array) && typeof value !== "string") {
      throw new ReduceError("REDUCER_FAILED", `${what}: result ${index} has no value; expected { value: Uint8Array | string, keys?, tags? }`);
    }
    messages.push({
      // One result keeps the window's id; several get `:<i>`, so a re-emission makes the same ids.
      id: resultId(vertex, keys, window, results.length === 1 ? undefined : index),
      keys: result!.keys ?? keys,
      value: typeof value === "string" ? encoder.encode(value) : value,
      eventTime: window.end - 1,
      headers: {},
    });
    tags.push(result!.tags);
  });
  return tags.some((tag) => tag !== undefined) ? { messages, tags } : { messages };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
