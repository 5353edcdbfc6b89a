/**
 * Loads the reducer of a reduce vertex from its udf spec (issue #13): the builtins count and sum,
 * or a module export told apart by shape (a function is the batch form, an object with init, add
 * and finish the incremental form). Module loading itself is connectors/load-module.ts's.
 */
import type { GroupBySpec } from "../spec/reduce-spec.js";
import type { UdfSpec } from "../spec/pipeline-spec.js";
import { importExport } from "../connectors/load-module.js";
import { countReducer, sumReducer } from "./builtin-reducers.js";
import { ReduceError } from "./reduce-error.js";
import type { BatchReduceFunction, IncrementalReduceFunctions, Reducer } from "./reducer.js";
import { silentLogger, type Logger } from "../observability/logger.js";
import { createProcessReducer } from "./process-reducer.js";
import { isSessionWindow } from "./windows.js";

const SHAPES =
  "a function (keys, messages, window, ctx) => results, or an object { init(keys, window), add(acc, message), merge?(a, b), finish(acc, keys, window) }";

/**
 * @example
 * const reducer = await loadReducer("counts", { builtin: { name: "count" } }, groupBy);
 * const custom = await loadReducer("perUser", { module: { path: "/srv/agg.ts", export: "perUser" } }, groupBy);
 * const external = await loadReducer("counts", { process: { command: ["python3", "reduce.py"] } }, groupBy, { partitions: 2, logger });
 */
export async function loadReducer(vertex: string, udf: UdfSpec, groupBy: GroupBySpec, options: ReducerLoadOptions = {}): Promise<LoadedReducer> {
  if ("process" in udf) {
    return createProcessReducer(
      vertex,
      {
        ...udf.process,
        partitions: options.partitions ?? 1,
        ...(options.resultTimeout === undefined ? {} : { resultTimeout: options.resultTimeout }),
        ...(options.onProtocolError === undefined ? {} : { onProtocolError: options.onProtocolError }),
      },
      options.logger ?? silentLogger,
    );
  }
  if ("builtin" in udf) return builtinReducer(vertex, udf.builtin);
  const what = `reducer of vertex '${vertex}'`;
  const value = await importExport(udf.module.path, udf.module.export, what);
  return toReducer(value, `${what} (${udf.module.path}#${udf.module.export})`, groupBy);
}

/** What a process reducer needs (the others ignore it). */
export interface ReducerLoadOptions {
  /** Partitions of the vertex: one process each. */
  readonly partitions?: number;
  readonly logger?: Logger;
  /** Longest wait for a process's answer to a window, in ms. */
  readonly resultTimeout?: number;
  /** Counts a process's protocol errors no window is charged with (the run summary's `protocolErrors`). */
  readonly onProtocolError?: (code: string) => void;
}

/** A reducer, with the `close()` that stops its processes when it has any. */
export type LoadedReducer = Reducer & { readonly close?: () => Promise<void> };

/** A module export as a reducer; `what` names the vertex and export in errors. */
export function toReducer(value: unknown, what: string, groupBy: GroupBySpec): Reducer {
  if (typeof value === "function") return { kind: "batch", name: what, reduce: value as BatchReduceFunction };
  if (typeof value !== "object" || value === null) {
    throw new ReduceError("REDUCER_INVALID", `${what} is ${value === null ? "null" : `a ${typeof value}`}; export ${SHAPES}`);
  }
  const functions = value as Partial<Record<keyof IncrementalReduceFunctions, unknown>>;
  const missing = (["init", "add", "finish"] as const).filter((name) => typeof functions[name] !== "function");
  if (missing.length > 0) {
    throw new ReduceError("REDUCER_INVALID", `${what} is an object without ${missing.join(", ")} as functions; export ${SHAPES}`);
  }
  if (functions.merge !== undefined && typeof functions.merge !== "function") {
    throw new ReduceError("REDUCER_INVALID", `${what}: merge is a ${typeof functions.merge}, not a function (a, b) => accumulator; fix it or leave merge out`);
  }
  if (functions.merge === undefined && isSessionWindow(groupBy.window)) {
    throw new ReduceError(
      "REDUCER_MERGE_MISSING",
      `${what} runs on session windows, which merge when a message bridges two sessions, but it has no merge(a, b); add merge, or export the batch form (keys, messages, window, ctx) => results`,
    );
  }
  return { kind: "incremental", name: what, functions: value as IncrementalReduceFunctions };
}

function builtinReducer(vertex: string, builtin: { readonly name: string; readonly field?: string | undefined }): Reducer {
  if (builtin.name === "count") return countReducer;
  if (builtin.name === "sum" && builtin.field !== undefined) return sumReducer(builtin.field);
  if (builtin.name === "sum") {
    throw new ReduceError("REDUCER_INVALID", `builtin sum of vertex '${vertex}' has no field; add field: <the top-level JSON number field to add up>`);
  }
  throw new ReduceError("REDUCER_INVALID", `builtin ${builtin.name} of vertex '${vertex}' is no reducer; use builtin count or sum, or module: { path, export }`);
}
