import { WeirError } from "@weir/actors";

export type ReduceErrorCode =
  /** The udf of a reduce vertex is no reducer (a map builtin, a process, an export of the wrong shape). */
  | "REDUCER_INVALID"
  /** The incremental form on session windows without `merge`. */
  | "REDUCER_MERGE_MISSING"
  /** The reducer threw or returned no valid results while a window closed. */
  | "REDUCER_FAILED"
  /** A message the reducer cannot take (builtin sum: not JSON, field not a number); the keeper reports it as failed. */
  | "MESSAGE_NOT_REDUCIBLE"
  /** A window spec the spec rules refuse (sliding with slide > length): some messages would fall in no window. */
  | "WINDOW_INVALID"
  /** Stored window state that does not parse, or was written by another reducer form. */
  | "WINDOW_STATE_INVALID"
  /** An epoch's input was no longer pending for this worker at its commit: another worker took the partition over. */
  | "REDUCE_PARTITION_LOST";

/** A reduce vertex that cannot be set up or run (issue #13). Raised with what to do about it. */
export class ReduceError extends WeirError {
  constructor(code: ReduceErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, ...options });
  }
}
