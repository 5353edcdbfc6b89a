/** Windows and reducers of a reduce vertex (issue #13), without I/O: what the reduce sink and the window store build on. */
export { countReducer, sumReducer } from "./builtin-reducers.js";
export { loadReducer, toReducer } from "./load-reducer.js";
export { ReduceError, type ReduceErrorCode } from "./reduce-error.js";
export type { BatchReduceFunction, IncrementalReduceFunctions, Reducer, ReduceContext, ReduceResults, ReduceWindow } from "./reducer.js";
export { createWindowKeeper, type AbsorbOutcome, type ClosedWindow, type WindowKeeper, type WindowKeeperOptions } from "./window-keeper.js";
export type { WindowStateChange } from "./window-state.js";
export { isSessionWindow, keysId, parseWindowField, resultId, windowField, windowKeysOf, windowsOf, type WindowRange } from "./windows.js";
