/**
 * The reducer of a reduce vertex (issue #13), in one of two forms:
 *
 *   batch        (keys, messages, window, ctx) => results      raw messages are kept in the state
 *   incremental  { init, add, merge?, finish }                 a JSON accumulator is kept instead
 *
 * The builtins count and sum are incremental reducers (builtin-reducers.ts); a module export is
 * told apart and checked by load-reducer.ts.
 */
import type { Message } from "@weir/actors";
import type { MapResult } from "../udf/map-function.js";

/** The window a reducer is called for: `[start, end)` in event-time ms. */
export interface ReduceWindow {
  readonly start: number;
  readonly end: number;
}

export interface ReduceContext {
  readonly vertex: string;
  readonly partition: number;
}

/** A window's results: each becomes a message with `eventTime = end − 1` and the window's keys unless it sets its own. */
export type ReduceResults = readonly MapResult[] | Promise<readonly MapResult[]>;

/**
 * The batch form: called once per closed window with every message of the window, in the order
 * they were absorbed (a merged session: its sessions' messages one session after the other).
 */
export type BatchReduceFunction = (keys: readonly string[], messages: readonly Message[], window: ReduceWindow, context: ReduceContext) => ReduceResults;

/**
 * The incremental form. The accumulator must survive `JSON.stringify`/`JSON.parse` (it is what
 * the state store keeps); `add` and `merge` may change it in place and return it.
 * `merge` is needed on session windows, where a message that bridges two sessions joins them.
 */
export interface IncrementalReduceFunctions<A = unknown> {
  init(keys: readonly string[], window: ReduceWindow): A;
  add(accumulator: A, message: Message): A;
  merge?(a: A, b: A): A;
  finish(accumulator: A, keys: readonly string[], window: ReduceWindow): ReduceResults;
}

export type Reducer =
  | {
      readonly kind: "batch";
      /** For messages: "builtin count", "module ./agg.ts#perUser". */
      readonly name: string;
      readonly reduce: BatchReduceFunction;
    }
  | {
      readonly kind: "incremental";
      readonly name: string;
      readonly functions: IncrementalReduceFunctions;
      /**
       * True when the functions never change an accumulator in place (the builtins): the
       * keeper then skips the defensive copy it makes of a user's accumulator.
       */
      readonly pure?: boolean;
    };
