/**
 * A sink written in any language: an external process per partition speaking NDJSON over
 * stdio (docs/protocol.md). The session's `sinkWriter` for each attempt writes the attempt's
 * data and eot frames to the partition's process and hands every frame the process answers
 * back to the session as it is — wrong partition, wrong epoch, unknown or duplicate ids, early
 * end-of-results are the session's to judge (that is the point: nothing is filtered here).
 *
 *   sink session(p) ──attempt──▶ writer ──data…, eot──▶ process(p)
 *   sink session(p) ◀──sinkIo.results / endOfResults── writer ◀──results…, endOfResults── process(p)
 *   process(p) dies, fails to start, or writes a malformed line ──▶ sinkIo.crashed (with the reason)
 *
 * A crash abandons the attempt; the session redrives its unsettled messages, and the next
 * attempt restarts the process after the restart backoff. Stopping an attempt (timeout, stop)
 * detaches it and leaves the process running.
 */
import { fromSinkAttempts, type SinkAnswer, type SinkFunction, type SinkIoEvent, type SinkResult } from "@weir/actors";
import type { Logger } from "../../observability/logger.js";
import type { SinkConnector } from "../sink-connector.js";
import { exchangeAttempt } from "./process-exchange.js";
import type { AttemptFrame, SinkResultEntry } from "./process-frames.js";
import { ProcessWorker, type ProcessCommandOptions } from "./process-worker.js";

export interface ProcessSinkOptions extends ProcessCommandOptions {
  /** How long `write` (the sink used as a fallback) waits for an answer, in ms (default 30 s). */
  readonly resultTimeout?: number;
}

const DEFAULT_RESULT_TIMEOUT_MS = 30_000;

/**
 * @example
 * const sink = createProcessSink("out", { command: ["python3", "sink.py"], cwd: "/srv/pipeline", partitions: 4 }, logger);
 * const session = sinkSessionMachine.provide({ actors: { sinkWriter: sink.writer } });
 * // … at the end of the run:
 * await sink.close();
 */
export function createProcessSink(vertex: string, options: ProcessSinkOptions, logger: Logger): SinkConnector {
  const workers = new Map<number, ProcessWorker>();
  let closed = false;
  const workerFor = (partition: number): ProcessWorker => {
    let worker = workers.get(partition);
    if (worker === undefined) {
      worker = new ProcessWorker(vertex, partition, "sink", options, logger);
      workers.set(partition, worker);
      // After close() an attempt is answered with a crash, never with a new process.
      if (closed) void worker.close();
    }
    return worker;
  };

  const writer = fromSinkAttempts((input, send) => {
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    // The returned release is the writer's cleanup: the session gave up on the attempt.
    return workerFor(input.partition).begin(input, {
      onSent: () => send({ type: "sinkIo.sent", ...frame }),
      onFrame: (answer) => send(toSinkIoEvent(answer)),
      onCrash: (reason) => send({ type: "sinkIo.crashed", ...frame, reason }),
    });
  });

  // `write` serves the sink as a fallback, where no session judges the frames: the exchange
  // does. It shares the partition's process with `writer`; a vertex uses one or the other.
  const lastAttempt = new Map<number, { epoch: number; attempt: number }>();
  const write: SinkFunction = async (messages, context) => {
    if (messages.length === 0) return [];
    // A retried fallback write comes with the same attempt number; a fresh one keeps a late
    // answer to the earlier try from being taken for this one.
    const last = lastAttempt.get(context.partition);
    const attempt = last !== undefined && last.epoch === context.epoch && last.attempt >= context.attempt ? last.attempt + 1 : context.attempt;
    lastAttempt.set(context.partition, { epoch: context.epoch, attempt });
    const answers = await exchangeAttempt<SinkResultEntry>(
      workerFor(context.partition),
      { epoch: context.epoch, attempt, messages },
      {
        partition: context.partition,
        timeoutMs: options.resultTimeout ?? DEFAULT_RESULT_TIMEOUT_MS,
        signal: context.signal,
        ...(options.onProtocolError === undefined ? {} : { onProtocolError: options.onProtocolError }),
        logger: logger.child({ vertex, partition: context.partition }),
      },
    );
    return messages.map((message): SinkResult => {
      const answer = answers.get(message.id)!;
      // A fallback write has no retryLater: judged a failure by the fallback writer (not ok).
      return "error" in answer ? { id: message.id, status: "failure", error: answer.error } : (toSinkResult(answer.entry) as SinkResult);
    });
  };

  return {
    writer,
    write,
    async close() {
      closed = true;
      // Every process is stopped even when one fails to (BullMQ's rule for close()).
      const results = await Promise.allSettled([...workers.values()].map((worker) => worker.close()));
      for (const result of results) {
        if (result.status === "rejected") logger.warn("process sink: a process did not close cleanly", { vertex, error: String(result.reason) });
      }
    },
  };
}

function toSinkIoEvent(frame: AttemptFrame): SinkIoEvent {
  const where = { partition: frame.partition, epoch: frame.epoch, attempt: frame.attempt };
  if (frame.type === "endOfResults") return { type: "sinkIo.endOfResults", ...where };
  // retryLater answers ride in the frame to the runtime's delayed writer (flow/delayed-writer.ts),
  // which parks them and answers ok before the session sees them.
  return { type: "sinkIo.results", ...where, results: (frame.results as readonly SinkResultEntry[]).map(toSinkResult) as SinkResult[] };
}

function toSinkResult(entry: SinkResultEntry): SinkAnswer {
  if (entry.status === "ok") return { id: entry.id, status: "ok" };
  if (entry.status === "failure") return { id: entry.id, status: "failure", error: entry.error ?? "the sink reported a failure without an error" };
  // A missing delayMs is refused where the message would be parked (flow/delayed-sink.ts), naming the field.
  if (entry.status === "retryLater") return { id: entry.id, status: "retryLater", delayMs: entry.delayMs ?? Number.NaN };
  return { id: entry.id, status: "fallback", reason: entry.reason ?? "the sink asked for fallback without a reason" };
}
