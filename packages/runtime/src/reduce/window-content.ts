/**
 * What a window holds, per reducer form, and its persisted JSON (the value of a window field):
 *
 *   incremental  {"keys":[…],"start":<ms>,"end":<ms>,"acc":<accumulator>}
 *   batch        {"keys":[…],"start":<ms>,"end":<ms>,"messages":[{"id","keys","value":<base64>,"eventTime","headers"}]}
 *
 * Every operation leaves its inputs as they were when it throws, so a message a reducer refuses
 * changes nothing: builtins are pure, a user's accumulator is kept as its JSON text (each add
 * works on a fresh parse), and adding to a batch window (a push) cannot fail.
 */
import type { Message } from "@weir/actors";
import { ReduceError } from "./reduce-error.js";
import type { IncrementalReduceFunctions, ReduceContext, ReduceResults, Reducer, ReduceWindow } from "./reducer.js";

export interface WindowContent<C> {
  /** The property of the persisted value holding the content. */
  readonly stateKey: "acc" | "messages";
  /**
   * `add` and `merge` never change a content they are given (builtins are pure, a user's accumulator
   * is a string): a committed window's decoded content can be handed to the next epoch as it is.
   */
  readonly immutable: boolean;
  create(keys: readonly string[], window: ReduceWindow): C;
  /** May return `content` itself, changed (batch). */
  add(content: C, message: Message): C;
  merge(a: C, b: C): C;
  toJson(content: C): string;
  /** The parsed value of `stateKey`; throws a plain Error when it is not what this form stores. */
  fromJson(value: unknown): C;
  results(content: C, keys: readonly string[], window: ReduceWindow, context: ReduceContext): ReduceResults;
}

export function windowContentOf(reducer: Reducer): WindowContent<unknown> {
  if (reducer.kind === "batch") return batchContent(reducer.reduce) as WindowContent<unknown>;
  return (reducer.pure === true ? pureContent(reducer.functions) : userContent(reducer.functions, reducer.name)) as WindowContent<unknown>;
}

/** The persisted JSON of one window. */
export function encodeWindow<C>(content: WindowContent<C>, keys: readonly string[], window: ReduceWindow, value: C): string {
  return `{"keys":${JSON.stringify(keys)},"start":${window.start},"end":${window.end},"${content.stateKey}":${content.toJson(value)}}`;
}

/** A persisted window's content; throws a plain Error saying what is wrong with it. */
export function decodeWindow<C>(content: WindowContent<C>, json: string): C {
  const value: unknown = JSON.parse(json);
  if (typeof value !== "object" || value === null || !(content.stateKey in value)) {
    const other = content.stateKey === "acc" ? "messages" : "acc";
    const written = typeof value === "object" && value !== null && other in value ? `it was written by the ${other === "acc" ? "incremental" : "batch"} reducer form` : "it has no state";
    throw new Error(`no "${content.stateKey}" in the stored window: ${written}`);
  }
  return content.fromJson((value as Record<string, unknown>)[content.stateKey]);
}

function pureContent(functions: IncrementalReduceFunctions): WindowContent<unknown> {
  return {
    stateKey: "acc",
    immutable: true,
    create: (keys, window) => functions.init(keys, window),
    add: (acc, message) => functions.add(acc, message),
    merge: (a, b) => functions.merge!(a, b),
    toJson: (acc) => JSON.stringify(acc),
    fromJson: (value) => value,
    results: (acc, keys, window) => functions.finish(acc, keys, window),
  };
}

/** A user's accumulator as JSON text: in-place changes by a throwing add never reach the state. */
function userContent(functions: IncrementalReduceFunctions, name: string): WindowContent<string> {
  const text = (acc: unknown, step: string): string => {
    const json = JSON.stringify(acc);
    if (json === undefined) throw new ReduceError("REDUCER_FAILED", `${name}: ${step} returned ${typeof acc}; return the accumulator (a JSON value)`);
    return json;
  };
  return {
    stateKey: "acc",
    immutable: true,
    create: (keys, window) => text(functions.init(keys, window), "init"),
    add: (acc, message) => text(functions.add(JSON.parse(acc), message), "add"),
    merge: (a, b) => text(functions.merge!(JSON.parse(a), JSON.parse(b)), "merge"),
    toJson: (acc) => acc,
    fromJson: (value) => JSON.stringify(value),
    results: (acc, keys, window) => functions.finish(JSON.parse(acc), keys, window),
  };
}

function batchContent(reduce: (keys: readonly string[], messages: readonly Message[], window: ReduceWindow, context: ReduceContext) => ReduceResults): WindowContent<Message[]> {
  return {
    stateKey: "messages",
    immutable: false,
    create: () => [],
    add: (messages, message) => {
      messages.push(message);
      return messages;
    },
    merge: (a, b) => [...a, ...b],
    toJson: (messages) => JSON.stringify(messages.map(encodeMessage)),
    fromJson: (value) => {
      if (!Array.isArray(value)) throw new Error(`"messages" is not an array`);
      return value.map(decodeMessage);
    },
    results: (messages, keys, window, context) => reduce(keys, messages, window, context),
  };
}

function encodeMessage(message: Message): unknown {
  return { id: message.id, keys: message.keys, value: Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength).toString("base64"), eventTime: message.eventTime, headers: message.headers };
}

function decodeMessage(value: unknown): Message {
  const stored = value as Partial<Record<keyof Message, unknown>> | null;
  if (
    typeof stored?.id !== "string" ||
    !Array.isArray(stored.keys) ||
    typeof stored.value !== "string" ||
    typeof stored.eventTime !== "number" ||
    typeof stored.headers !== "object" ||
    stored.headers === null
  ) {
    throw new Error(`a stored message is not { id, keys, value (base64), eventTime, headers }`);
  }
  return {
    id: stored.id,
    keys: stored.keys as string[],
    value: new Uint8Array(Buffer.from(stored.value, "base64")),
    eventTime: stored.eventTime,
    headers: stored.headers as Record<string, string>,
  };
}
