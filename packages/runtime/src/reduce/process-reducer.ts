/**
 * A reducer written in any language (issue #13): the batch form backed by an external process per
 * partition, speaking docs/protocol.md with role `reduce`. When a window closes, the keeper calls
 * `reduce`; the window goes to the partition's process as one attempt and its results come back.
 *
 *   keeper(p).closable ──keys, messages, window──▶ reduce ──data…, eot{window, keys}──▶ process(p)
 *   keeper(p).closable ◀──────── results ───────── reduce ◀──results…, endOfResults──── process(p)
 *
 * Each window is its own attempt: `epoch` counts the windows sent on the partition (from 1, never
 * reused while Weir runs), `attempt` is always 1. Anything but a complete answer — a crash, a
 * malformed frame naming the window, a frame naming another window, no endOfResults within
 * `resultTimeout` — rejects, and the keeper turns it into REDUCER_FAILED: the window stays open.
 * Processes start lazily, restart with backoff (ProcessWorker) and stop on `close()`.
 */
import type { Message } from "@weir/actors";
import type { Logger } from "../observability/logger.js";
import type { MapResult } from "../udf/map-function.js";
import type { AttemptFrame, MapOutputEntry } from "../connectors/process/process-frames.js";
import { ProcessWorker, type ProcessCommandOptions } from "../connectors/process/process-worker.js";
import type { ReduceWindow, Reducer } from "./reducer.js";

export interface ProcessReducerOptions extends ProcessCommandOptions {
  /** Longest wait for a window's endOfResults, in ms (default 30 s). */
  readonly resultTimeout?: number;
}

const DEFAULT_RESULT_TIMEOUT_MS = 30_000;
// setTimeout fires at once for longer delays; anything this long means "no timeout".
const MAX_TIMER_MS = 2_147_483_647;

/** A batch reducer backed by processes, with the `close()` that stops them. */
export type ProcessReducer = Extract<Reducer, { kind: "batch" }> & { close(): Promise<void> };

/**
 * @example
 * const reducer = createProcessReducer("counts", { command: ["python3", "reduce.py"], partitions: 2 }, logger);
 * // the keeper calls reducer.reduce(keys, messages, window, ctx) per closed window; at the end:
 * await reducer.close();
 */
export function createProcessReducer(vertex: string, options: ProcessReducerOptions, logger: Logger): ProcessReducer {
  const workers = new Map<number, { readonly worker: ProcessWorker; windows: number }>();
  let closed = false;
  const slotFor = (partition: number) => {
    let slot = workers.get(partition);
    if (slot === undefined) {
      slot = { worker: new ProcessWorker(vertex, partition, "reduce", options, logger), windows: 0 };
      workers.set(partition, slot);
      if (closed) void slot.worker.close();
    }
    return slot;
  };
  const name = `process reducer ${JSON.stringify(options.command)}`;

  return {
    kind: "batch",
    name,
    async reduce(keys, messages, window, context) {
      const slot = slotFor(context.partition);
      slot.windows += 1;
      const outputs = await exchangeWindow(slot.worker, { partition: context.partition, epoch: slot.windows, keys, window, messages }, options.resultTimeout ?? DEFAULT_RESULT_TIMEOUT_MS);
      return outputs.map(
        (output): MapResult => ({
          value: new Uint8Array(Buffer.from(output.value, "base64")),
          ...(output.keys === undefined ? {} : { keys: output.keys }),
          ...(output.tags === undefined ? {} : { tags: output.tags }),
        }),
      );
    },
    async close() {
      closed = true;
      const results = await Promise.allSettled([...workers.values()].map((slot) => slot.worker.close()));
      for (const result of results) {
        if (result.status === "rejected") logger.warn("process reducer: a process did not close cleanly", { vertex, error: String(result.reason) });
      }
    },
  };
}

interface WindowAttempt {
  readonly partition: number;
  readonly epoch: number;
  readonly keys: readonly string[];
  readonly window: ReduceWindow;
  readonly messages: readonly Message[];
}

/** One window as one attempt: resolves with every output up to endOfResults, rejects with why there is none. */
function exchangeWindow(worker: ProcessWorker, sent: WindowAttempt, timeoutMs: number): Promise<MapOutputEntry[]> {
  const { partition, epoch } = sent;
  const named = `partition ${partition} epoch ${epoch} attempt 1 (window [${sent.window.start}, ${sent.window.end}) of keys ${JSON.stringify(sent.keys)})`;
  return new Promise((resolve, reject) => {
    const outputs: MapOutputEntry[] = [];
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let release: (() => void) | undefined;
    const finish = (error: string | undefined) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      release?.();
      if (error === undefined) resolve(outputs);
      else reject(new Error(`the reduce process failed ${named}: ${error}`));
    };
    const onFrame = (frame: AttemptFrame) => {
      if (frame.partition !== partition || frame.epoch !== epoch || frame.attempt !== 1) {
        finish(`it answered with a ${frame.type} frame for partition ${frame.partition} epoch ${frame.epoch} attempt ${frame.attempt} (copy partition, epoch and attempt from the eot)`);
      } else if (frame.type === "endOfResults") finish(undefined);
      else outputs.push(...(frame.results as readonly MapOutputEntry[]));
    };
    if (timeoutMs < MAX_TIMER_MS) timer = setTimeout(() => finish(`no endOfResults frame within ${timeoutMs}ms (resultTimeout)`), timeoutMs);
    release = worker.begin(
      { epoch, attempt: 1, messages: sent.messages, eot: { window: { start: sent.window.start, end: sent.window.end }, keys: sent.keys } },
      { onSent: () => undefined, onFrame, onCrash: (reason) => finish(reason) },
    );
    if (finished) release();
  });
}
