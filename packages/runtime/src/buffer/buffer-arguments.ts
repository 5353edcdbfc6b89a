/**
 * The argument checks every {@link PartitionedBuffer} makes alike, so both stores refuse the same
 * calls with the same words (the conformance suite holds them to it).
 */
import { BufferError } from "./buffer-error.js";
import { bufferCapacity, type BufferOptions, type WatermarkMark } from "./partitioned-buffer.js";

/**
 * The options both stores share (the name is each store's own to check); returns the capacity,
 * `floor(maxLength × usageLimit)`.
 */
export function checkBufferOptions(options: BufferOptions): number {
  const { name, partitions, maxLength, usageLimit, upstreams } = options;
  if (!Number.isInteger(partitions) || partitions < 1) throw invalidOptions(`buffer "${name}": partitions must be an integer ≥ 1, got ${partitions}`);
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw invalidOptions(`buffer "${name}": maxLength (bufferMaxLength) must be an integer ≥ 1, got ${maxLength}`);
  }
  if (!(usageLimit > 0 && usageLimit <= 1)) throw invalidOptions(`buffer "${name}": usageLimit (bufferUsageLimit) must be in (0, 1], got ${usageLimit}`);
  const capacity = bufferCapacity(maxLength, usageLimit);
  if (capacity < 1) {
    throw invalidOptions(
      `buffer "${name}": maxLength × usageLimit = ${maxLength} × ${usageLimit} leaves room for no entry; raise bufferMaxLength or bufferUsageLimit`,
    );
  }
  for (const upstream of upstreams) {
    if (typeof upstream !== "string" || upstream.length === 0) {
      throw invalidOptions(`buffer "${name}": upstreams must be non-empty writer names, got ${JSON.stringify(upstream)}`);
    }
  }
  checkWatermarkOptions(options);
  return capacity;
}

function checkWatermarkOptions(options: BufferOptions): void {
  const { name, watermarkWriters, processorTimeoutMs } = options;
  for (const writer of watermarkWriters ?? []) {
    if (typeof writer !== "string" || writer.length === 0) {
      throw invalidOptions(`buffer "${name}": watermarkWriters must be non-empty writer ids ("<vertex>/<partition>"), got ${JSON.stringify(writer)}`);
    }
  }
  if (processorTimeoutMs !== undefined && !(processorTimeoutMs > 0 && Number.isFinite(processorTimeoutMs))) {
    throw invalidOptions(`buffer "${name}": processorTimeoutMs must be a finite number of ms > 0 (omit it: processors never time out), got ${processorTimeoutMs}`);
  }
}

/** A mark's writer must be one of the buffer's `watermarkWriters`, its watermark a number. */
export function checkWatermarkMark(buffer: string, writers: ReadonlySet<string>, mark: WatermarkMark): void {
  if (!writers.has(mark.writer)) {
    const known = writers.size === 0 ? "none: the buffer tracks no watermark" : [...writers].join(", ");
    throw new BufferError(
      "BUFFER_UNKNOWN_WRITER",
      `buffer "${buffer}": watermark mark from "${mark.writer}", which is not one of its watermark writers (${known}); only pipelines with event time (groupBy or spec.watermark) publish watermarks`,
    );
  }
  checkConsumer(buffer, mark.processor);
  if (typeof mark.watermark !== "number" || Number.isNaN(mark.watermark)) {
    throw invalidArgument(`buffer "${buffer}": a watermark must be a number of ms, got ${JSON.stringify(mark.watermark)} from "${mark.writer}"`);
  }
}

/** `read`'s `max` (an integer ≥ 1) and `timeoutMs` (≥ 0). */
export function checkReadArguments(buffer: string, max: number, timeoutMs: number): void {
  if (!Number.isInteger(max) || max < 1) throw invalidArgument(`buffer "${buffer}": read max must be an integer ≥ 1, got ${max}`);
  if (!(timeoutMs >= 0)) throw invalidArgument(`buffer "${buffer}": read timeoutMs must be ≥ 0 (0 = do not wait), got ${timeoutMs}`);
}

/** `claimIdle`'s `minIdleMs` (≥ 0) and `max` (an integer ≥ 1). */
export function checkClaimArguments(buffer: string, minIdleMs: number, max: number): void {
  if (!(minIdleMs >= 0)) throw invalidArgument(`buffer "${buffer}": claimIdle minIdleMs must be ≥ 0, got ${minIdleMs}`);
  if (!Number.isInteger(max) || max < 1) throw invalidArgument(`buffer "${buffer}": claimIdle max must be an integer ≥ 1, got ${max}`);
}

/** A consumer name: non-empty, one per process and vertex. */
export function checkConsumer(buffer: string, consumer: unknown): void {
  if (typeof consumer !== "string" || consumer.length === 0) {
    throw invalidArgument(`buffer "${buffer}": consumer must be a non-empty name (one per process and vertex), got ${JSON.stringify(consumer)}`);
  }
}

/** `endOfStream`'s writer must be one of the buffer's upstreams. */
export function checkUpstream(buffer: string, upstreams: ReadonlySet<string>, writer: string): void {
  if (upstreams.has(writer)) return;
  const known = upstreams.size === 0 ? "none: the buffer is unbounded" : [...upstreams].join(", ");
  throw new BufferError(
    "BUFFER_UNKNOWN_WRITER",
    `buffer "${buffer}": endOfStream from "${writer}", which is not one of its upstreams (${known}); check the pipeline's edges`,
  );
}

/** Options that no buffer can be built with. */
export function invalidOptions(message: string): BufferError {
  return new BufferError("BUFFER_INVALID_OPTIONS", message);
}

function invalidArgument(message: string): BufferError {
  return new BufferError("BUFFER_INVALID_ARGUMENT", message);
}
