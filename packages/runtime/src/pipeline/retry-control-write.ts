/**
 * Control writes of the runtime (an end-of-stream marker) retried like data writes: a retriable
 * buffer error (Redis unreachable for a while, or over `maxmemory` until readers free memory) is
 * waited out with capped backoff, logged on the 1st, 2nd, 4th, 8th… failure in a row. Before, one
 * OOM refusal of the end-of-stream marker failed a run that had delivered every message.
 */
import type { Logger } from "../observability/logger.js";

/** How retries of one control write wait: doubling from `initialMs`, capped at `maxMs`. */
export interface ControlRetryOptions {
  /** Names the write in logs, e.g. `end of stream of vertex 'in'`. */
  readonly what: string;
  readonly logger: Logger;
  /** True once the run is over: stop retrying and rethrow the last error. */
  readonly cancelled: () => boolean;
  readonly initialMs?: number;
  readonly maxMs?: number;
}

/** Runs `write` until it succeeds, a non-retriable error, or cancellation (which rethrow). */
export async function retryControlWrite<T>(write: () => Promise<T>, options: ControlRetryOptions): Promise<T> {
  const maxMs = options.maxMs ?? 1_000;
  let delayMs = options.initialMs ?? 20;
  for (let failures = 1; ; failures += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isRetriable(error) || options.cancelled()) throw error;
      if ((failures & (failures - 1)) === 0) {
        options.logger.warn(`${options.what} could not be written; retrying`, { failures, error: error instanceof Error ? error.message : String(error) });
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(maxMs, delayMs * 2);
    }
  }
}

function isRetriable(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retriable?: unknown }).retriable === true;
}
