import { WeirError } from "@weir/actors";

/**
 * Why a buffer call failed. Branch on these, never on the message text.
 *
 * - `BUFFER_INVALID_OPTIONS` — the buffer was constructed with impossible limits.
 * - `BUFFER_PARTITION_OUT_OF_RANGE` — a partition index outside `[0, partitions)`.
 * - `BUFFER_INVALID_ARGUMENT` — a malformed call argument (`max < 1`, negative timeout, empty consumer).
 * - `BUFFER_INVALID_OFFSET` — an offset that this buffer could never have produced.
 * - `BUFFER_UNKNOWN_WRITER` — `endOfStream` from a writer that is not one of the buffer's upstreams.
 * - `BUFFER_STREAM_ENDED` — a write after every upstream declared end of stream.
 * - `BUFFER_CLOSED` — a call on a buffer after `close()`.
 * - `BUFFER_UNAVAILABLE` — the backing store could not be reached (retriable).
 * - `BUFFER_SCRIPT` — a Redis script or command failed in a way a retry cannot fix (a bug, or
 *   keys changed by something other than Weir).
 * - `BUFFER_CORRUPT_ENTRY` — a stream entry that this version of Weir cannot decode (written by
 *   something else, or by an incompatible version).
 * - `BUFFER_DATA_LOST` — the store lost what it held (a Redis restarted without persistence, a
 *   deleted key): not retriable, so the run stops and says so instead of completing short.
 * - `BUFFER_OUT_OF_MEMORY` — Redis refused a write because its used memory is over `maxmemory`
 *   (retriable: readers' acks free memory). A buffer write treats it as a full buffer instead.
 * - `BUFFER_UNREACHABLE` — Redis never answered since the connection was created (wrong host or
 *   port, nothing listening, not a Redis server): not retriable, unlike a server that answered
 *   once and went away (`BUFFER_UNAVAILABLE`, retried).
 * - `BUFFER_SPEC_MISMATCH` — the Redis keys belong to another spec of a pipeline with the same
 *   name and keyPrefix: not retriable; use another keyPrefix, or `weir reset`.
 * - `BUFFER_TLS` — TLS between Weir and Redis is misconfigured: the server's certificate is not
 *   trusted or not for this host, the server refused the client certificate, or one side does
 *   not speak TLS (redis:// to a TLS port). Not retriable: like a wrong password, a retry gets
 *   the same answer.
 */
export type BufferErrorCode =
  | "BUFFER_INVALID_OPTIONS"
  | "BUFFER_PARTITION_OUT_OF_RANGE"
  | "BUFFER_INVALID_ARGUMENT"
  | "BUFFER_INVALID_OFFSET"
  | "BUFFER_UNKNOWN_WRITER"
  | "BUFFER_STREAM_ENDED"
  | "BUFFER_CLOSED"
  | "BUFFER_UNAVAILABLE"
  | "BUFFER_SCRIPT"
  | "BUFFER_CORRUPT_ENTRY"
  | "BUFFER_DATA_LOST"
  | "BUFFER_OUT_OF_MEMORY"
  | "BUFFER_UNREACHABLE"
  | "BUFFER_SPEC_MISMATCH"
  | "BUFFER_TLS";

/**
 * An error raised by a {@link PartitionedBuffer} implementation. Buffers make one attempt per
 * call; the caller (an actor) decides whether to retry, using `retriable`.
 *
 * @example
 * ```ts
 * try {
 *   await buffer.write(p, batch);
 * } catch (error) {
 *   if (error instanceof BufferError && error.retriable) scheduleRetry();
 *   else throw error;
 * }
 * ```
 */
export class BufferError extends WeirError {
  declare readonly code: BufferErrorCode;

  constructor(code: BufferErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The errors every buffer raises alike, so their messages read the same whatever the store. */
export const bufferErrors = {
  partitionOutOfRange: (buffer: string, operation: string, partition: number, partitions: number) =>
    new BufferError(
      "BUFFER_PARTITION_OUT_OF_RANGE",
      `buffer "${buffer}": ${operation} on partition ${partition}, but it has ${partitions} (0…${partitions - 1}); check that writers and readers agree on the vertex's partition count`,
    ),
  closed: (buffer: string, operation: string) =>
    new BufferError("BUFFER_CLOSED", `buffer "${buffer}": ${operation} after close(); stop the readers and writers of a buffer before closing it`),
  invalidOffset: (buffer: string, operation: string, offset: unknown, format: string) =>
    new BufferError(
      "BUFFER_INVALID_OFFSET",
      `buffer "${buffer}": ${operation} with offset ${JSON.stringify(offset)}, which this buffer never produced (${format}); pass offsets exactly as read returned them`,
    ),
} as const;
