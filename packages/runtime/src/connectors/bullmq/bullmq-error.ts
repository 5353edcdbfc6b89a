import { WeirError } from "@weir/actors";

/**
 * Why a BullMQ connector or dead-letter tool failed. Branch on these, never on the text.
 *
 * - `BULLMQ_INVALID_OPTIONS` — a queue, url or partition count that cannot work.
 * - `BULLMQ_UNAVAILABLE` — Redis could not be reached, or a BullMQ call failed (retriable).
 * - `BULLMQ_CLOSED` — a call after `close()`.
 * - `BULLMQ_PARTITION_OUT_OF_RANGE` — a source read or ack on a partition it does not have.
 * - `DLQ_REPLAY_UNSUPPORTED` — a replay into a buffer no other process can reach (memory).
 * - `DLQ_REPLAY_FAILED` — a dead letter could not be written back (its vertex is gone, its
 *   input buffer stayed full, or its stream was ended by a finished bounded run).
 */
export type BullmqErrorCode =
  | "BULLMQ_INVALID_OPTIONS"
  | "BULLMQ_UNAVAILABLE"
  | "BULLMQ_CLOSED"
  | "BULLMQ_PARTITION_OUT_OF_RANGE"
  | "DLQ_REPLAY_UNSUPPORTED"
  | "DLQ_REPLAY_FAILED";

/** An error of the `bullmq` source, sink or dead-letter tools (`weir dlq`). */
export class BullmqError extends WeirError {
  declare readonly code: BullmqErrorCode;

  constructor(code: BullmqErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, { retriable: options.retriable ?? code === "BULLMQ_UNAVAILABLE", ...(options.cause === undefined ? {} : { cause: options.cause }) });
  }
}
