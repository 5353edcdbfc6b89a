/**
 * Streams trace lines to a file through a bounded in-memory queue.
 *
 *   write(line) ──▶ queue (≤ chunkBytes) ──async fs.write, one at a time──▶ file
 *                     │ queue + write in flight > maxQueueBytes
 *                     └──▶ fs.writeSync: the caller (the actors) waits — backpressure
 *
 * Nothing is dropped to keep up: when the disk is slower than the pipeline, the pipeline slows
 * down instead (counted in `blockingWrites` / `blockedMs`). A write that fails (disk full) is
 * the one case where lines are lost; from then on lines are counted in `elided` and the error is
 * kept, so the run can report it. `write` never throws: it is called from XState's inspection
 * hook, where an exception would crash the actor.
 *
 * Async and blocking writes go to explicit file positions, so a blocking write may overtake an
 * async one still in flight without reordering lines. Targets that are not regular files
 * (a pipe, /dev/stdout) have no positions; they are written synchronously, in order.
 */
import { closeSync, fstatSync, openSync, write as writeAt, writeSync } from "node:fs";

export interface TraceFileWriterOptions {
  /** Most bytes queued or in flight before `write` blocks on the disk. Default 8 MiB. */
  readonly maxQueueBytes?: number;
  /** Queued bytes that start an async write. Default 256 KiB. */
  readonly chunkBytes?: number;
}

export interface TraceFileWriterStats {
  readonly lines: number;
  readonly bytes: number;
  readonly asyncWrites: number;
  /** Writes made while the caller waited because the queue was full (targets that are not files are always written synchronously and not counted). */
  readonly blockingWrites: number;
  readonly blockedMs: number;
  readonly maxQueuedBytes: number;
  /** Lines lost after a write error (0 unless `error` is set). */
  readonly elided: number;
  readonly error: string | null;
}

export interface TraceFileWriter {
  /** Queues one line (it must end with "\n"). Never throws. */
  write(line: string): void;
  stats(): TraceFileWriterStats;
  /** Writes what is queued, waits for writes in flight, closes the file. Idempotent. */
  close(): Promise<TraceFileWriterStats>;
}

export function createTraceFileWriter(file: string, options: TraceFileWriterOptions = {}): TraceFileWriter {
  const maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024;
  const chunkBytes = Math.min(options.chunkBytes ?? 256 * 1024, maxQueueBytes);
  const fd = openSync(file, "w");
  const positional = fstatSync(fd).isFile();
  let position = 0;
  let parts: string[] = [];
  let queuedBytes = 0;
  let inFlightBytes = 0;
  let lines = 0;
  let bytes = 0;
  let asyncWrites = 0;
  let blockingWrites = 0;
  let blockedMs = 0;
  let maxQueuedBytes = 0;
  let elided = 0;
  let error: string | null = null;
  let flushScheduled = false;
  let closed: Promise<TraceFileWriterStats> | undefined;
  let idle: (() => void) | undefined;

  const stats = (): TraceFileWriterStats => ({ lines, bytes, asyncWrites, blockingWrites, blockedMs, maxQueuedBytes, elided, error });

  const take = (): Buffer => {
    const buffer = Buffer.from(parts.length === 1 ? parts[0]! : parts.join(""), "utf8");
    parts = [];
    queuedBytes = 0;
    return buffer;
  };

  const fail = (cause: unknown) => {
    error ??= cause instanceof Error ? cause.message : String(cause);
  };

  const writeBlocking = (counted = true) => {
    if (queuedBytes === 0 || error !== null) return;
    const started = performance.now();
    const count = parts.length;
    const buffer = take();
    try {
      writeSync(fd, buffer, 0, buffer.length, positional ? position : null);
      position += buffer.length;
      bytes += buffer.length;
      if (counted) blockingWrites += 1;
    } catch (cause) {
      fail(cause);
      elided += count;
    }
    if (counted) blockedMs += performance.now() - started;
  };

  const writeAsync = () => {
    if (queuedBytes === 0 || inFlightBytes > 0 || error !== null) return;
    const count = parts.length;
    const buffer = take();
    const at = position;
    position += buffer.length;
    inFlightBytes = buffer.length;
    asyncWrites += 1;
    writeAt(fd, buffer, 0, buffer.length, at, (cause) => {
      inFlightBytes = 0;
      if (cause !== null) {
        fail(cause);
        elided += count;
      } else {
        bytes += buffer.length;
      }
      if (queuedBytes >= chunkBytes) writeAsync();
      if (inFlightBytes === 0) idle?.();
    });
  };

  const flushSoon = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (positional) writeAsync();
      else writeBlocking(false);
    });
  };

  return {
    write(line) {
      if (closed !== undefined || error !== null) {
        elided += 1;
        return;
      }
      parts.push(line);
      lines += 1;
      // String length counts UTF-16 units, a close enough stand-in for bytes in a JSON trace.
      queuedBytes += line.length;
      maxQueuedBytes = Math.max(maxQueuedBytes, queuedBytes + inFlightBytes);
      if (!positional) {
        if (queuedBytes >= chunkBytes) writeBlocking(false);
      } else if (queuedBytes + inFlightBytes > maxQueueBytes) {
        writeBlocking();
      } else if (queuedBytes >= chunkBytes) {
        writeAsync();
      }
      if (queuedBytes > 0) flushSoon();
    },
    stats,
    close() {
      closed ??= (async () => {
        if (inFlightBytes > 0) await new Promise<void>((resolve) => (idle = resolve));
        writeBlocking(false); // the last lines, after the run: nobody waits for them

        try {
          closeSync(fd);
        } catch (cause) {
          fail(cause);
        }
        return stats();
      })();
      return closed;
    },
  };
}
