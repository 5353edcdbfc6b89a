/**
 * One attempt as a promise: sends it through a worker and gathers the process's answer per id,
 * applying the EOT protocol's rules itself. Used where Weir's own code waits on the process —
 * a process map stage, and a process sink used as a fallback — rather than a sink session
 * (which judges the raw frames itself).
 *
 * Every id of the attempt ends with an answer or an error: a result for it, or why there is
 * none (early end-of-results, crash, timeout, stop). Protocol violations are logged with
 * their code and counted once each (`onProtocolError`: the run summary's `protocolErrors`, as a
 * sink session counts its own); a duplicated id fails, since Weir cannot tell which answer is right.
 */
import type { Logger } from "../../observability/logger.js";
import type { AttemptFrame } from "./process-frames.js";
import type { ProcessAttempt, ProcessWorker } from "./process-worker.js";

// setTimeout fires at once for longer delays; anything this long means "no timeout".
const MAX_TIMER_MS = 2_147_483_647;

export type ExchangeAnswer<E> = { readonly entry: E } | { readonly error: string };

export interface ExchangeOptions {
  readonly partition: number;
  /** Longest wait for the end-of-results, from the start of the attempt. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  /** Counts a violation (the log line is written here). */
  readonly onProtocolError?: (code: string) => void;
}

export function exchangeAttempt<E extends { readonly id: string }>(
  worker: ProcessWorker,
  attempt: ProcessAttempt,
  options: ExchangeOptions,
): Promise<Map<string, ExchangeAnswer<E>>> {
  const { partition, logger } = options;
  const where = { partition, epoch: attempt.epoch, attempt: attempt.attempt };
  const expected = new Set(attempt.messages.map((message) => message.id));
  const answers = new Map<string, ExchangeAnswer<E>>();
  const violation = (code: string, message: string) => {
    logger.warn("protocol error", { ...where, code, error: message });
    options.onProtocolError?.(code);
  };

  return new Promise((resolve) => {
    let finished = false;
    let release: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => finish("the attempt was stopped before the process answered");
    const finish = (missingReason: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      release?.();
      for (const id of expected) if (!answers.has(id)) answers.set(id, { error: missingReason });
      resolve(answers);
    };

    const onFrame = (frame: AttemptFrame) => {
      if (finished) return;
      if (frame.partition !== partition || frame.epoch !== attempt.epoch || frame.attempt !== attempt.attempt) {
        // An answer to an attempt given up earlier: stale, not an error (as in the sink session).
        if (frame.partition === partition && frame.epoch === attempt.epoch && frame.attempt < attempt.attempt) return;
        const code = frame.partition !== partition ? "WRONG_PARTITION" : frame.epoch !== attempt.epoch ? "WRONG_EPOCH" : "WRONG_ATTEMPT";
        violation(code, `${frame.type} frame for partition ${frame.partition} epoch ${frame.epoch} attempt ${frame.attempt}; ignored`);
        return;
      }
      if (frame.type === "endOfResults") {
        if (answers.size < expected.size) {
          violation("EARLY_END_OF_RESULTS", `endOfResults after ${answers.size} of ${expected.size} results`);
        }
        finish("no result before the process's endOfResults");
        return;
      }
      for (const entry of frame.results as unknown as readonly E[]) {
        if (!expected.has(entry.id)) {
          violation("UNKNOWN_ID", `result for id '${entry.id}', which is not in this attempt; ignored`);
        } else if (answers.has(entry.id)) {
          violation("DUPLICATE_RESULT", `a second result for id '${entry.id}'; the message fails`);
          answers.set(entry.id, { error: "the process sent two results for this id" });
        } else {
          answers.set(entry.id, { entry });
        }
      }
    };

    if (options.timeoutMs < MAX_TIMER_MS) {
      timer = setTimeout(() => {
        violation("RESULT_TIMEOUT", `no endOfResults frame within ${options.timeoutMs}ms (${answers.size} of ${expected.size} results)`);
        finish(`no endOfResults frame within ${options.timeoutMs}ms`);
      }, options.timeoutMs);
    }
    if (options.signal?.aborted === true) {
      finish("the attempt was stopped before it was sent");
      return;
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    release = worker.begin(attempt, {
      onSent: () => undefined,
      onFrame,
      onCrash: (reason, byProcess) => {
        if (byProcess && !finished) violation("PROCESS_CRASHED", `the attempt ended without an answer: ${reason}`);
        finish(`the process crashed: ${reason}`);
      },
    });
    if (finished) release();
  });
}
