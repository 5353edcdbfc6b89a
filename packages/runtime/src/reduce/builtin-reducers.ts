/**
 * The builtin reducers `count` and `sum` (issue #13). One result per window, its value UTF-8 JSON:
 *
 *   count  {"keys":[…],"start":<ms>,"end":<ms>,"count":<n>}
 *   sum    {"keys":[…],"start":<ms>,"end":<ms>,"count":<n>,"sum":<n>}
 *
 * sum reads a top-level JSON number field of each message's value; a message that is not JSON or
 * whose field is no finite number is refused with a MESSAGE_NOT_REDUCIBLE error, which the
 * window keeper reports as failed with its message as reason.
 */
import type { Message } from "@weir/actors";
import { ReduceError } from "./reduce-error.js";
import type { Reducer, ReduceWindow } from "./reducer.js";

interface Tally {
  readonly count: number;
  readonly sum: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

export const countReducer: Reducer = {
  kind: "incremental",
  name: "builtin count",
  pure: true,
  functions: {
    init: () => 0,
    add: (count) => (count as number) + 1,
    merge: (a, b) => (a as number) + (b as number),
    finish: (count, keys, window) => [{ value: resultText(keys, window, { count: count as number }) }],
  },
};

export function sumReducer(field: string): Reducer {
  return {
    kind: "incremental",
    name: "builtin sum",
    pure: true,
    functions: {
      init: (): Tally => ({ count: 0, sum: 0 }),
      add: (tally, message) => {
        const { count, sum } = tally as Tally;
        return { count: count + 1, sum: sum + numberField(message, field) };
      },
      merge: (a, b) => ({ count: (a as Tally).count + (b as Tally).count, sum: (a as Tally).sum + (b as Tally).sum }),
      finish: (tally, keys, window) => [{ value: resultText(keys, window, tally as Tally) }],
    },
  };
}

function resultText(keys: readonly string[], window: ReduceWindow, tally: { readonly count: number; readonly sum?: number }): string {
  return JSON.stringify({ keys, start: window.start, end: window.end, ...tally });
}

function numberField(message: Message, field: string): number {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(message.value));
  } catch {
    throw new ReduceError("MESSAGE_NOT_REDUCIBLE", `sum: the value of message '${message.id}' is not JSON; sum reads its field '${field}'`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ReduceError("MESSAGE_NOT_REDUCIBLE", `sum: the value of message '${message.id}' is not a JSON object; sum reads its field '${field}'`);
  }
  const number = (value as Record<string, unknown>)[field];
  if (typeof number !== "number" || !Number.isFinite(number)) {
    const found = number === undefined ? "missing" : typeof number === "number" ? String(number) : JSON.stringify(number);
    throw new ReduceError("MESSAGE_NOT_REDUCIBLE", `sum: field '${field}' of message '${message.id}' is ${found}, not a finite number`);
  }
  return number;
}
