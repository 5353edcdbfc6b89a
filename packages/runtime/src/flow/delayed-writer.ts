/**
 * Delayed redelivery for sinks that answer through a writer rather than a function (process
 * sinks, docs/protocol.md): the writer's attempt runs inside this one's (no actor per attempt), and each of its
 * results frames that holds `retryLater` answers is settled by {@link settleRetryLater} (parked,
 * then `ok`) before the session sees it. Frames keep their order: a frame waits for the parks of
 * the frames before it. Deliveries parked already (Redis, after a crash) are answered `ok` beside
 * the writer's own results, as the gate adds its refusals.
 */
import { fromSinkAttempts, type SinkContext, type SinkIoEvent, type SinkWriterLogic } from "@weir/actors";
import { completeWithRefused, runInnerAttempt } from "../pipeline/gated-sink.js";
import { planAttempt, settleRetryLater, type DelayedRedeliveryOptions } from "./delayed-sink.js";

const NEVER_ABORTED = new AbortController().signal;

/**
 * `writer` with `retryLater` answers parked.
 *
 * @example
 * ```ts
 * const sinkWriter = delayedSinkWriter(processSink.writer, { vertex: "out", store, retry, counts, countsWritten: true, failures, failureKind: "sinkFailed" });
 * ```
 */
export function delayedSinkWriter(writer: SinkWriterLogic, options: DelayedRedeliveryOptions): SinkWriterLogic {
  return fromSinkAttempts((input, sendBack) => {
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    const context: SinkContext = { vertex: input.vertex, ...frame, signal: NEVER_ABORTED };
    let stopped = false;
    let disposeInner: (() => void) | void;
    const send = (event: SinkIoEvent) => {
      if (!stopped) sendBack(event);
    };
    void planAttempt(options, input.messages, input.partition).then(
      (plan) => {
        if (stopped) return;
        if (plan.toWrite.length === 0) {
          send({ type: "sinkIo.sent", ...frame });
          send({ type: "sinkIo.results", ...frame, results: plan.done });
          send({ type: "sinkIo.endOfResults", ...frame });
          return;
        }
        const onward = plan.done.length === 0 ? send : completeWithRefused(frame, plan.toWrite, plan.done, send);
        let chain = Promise.resolve();
        const forward = (event: SinkIoEvent) => {
          chain = chain
            .then(async () => {
              const ours = event.partition === frame.partition && event.epoch === frame.epoch && event.attempt === frame.attempt;
              if (!ours || event.type !== "sinkIo.results") return onward(event);
              const results = await settleRetryLater(options, event.results, plan.originals, context);
              onward(results === event.results ? event : { ...event, results });
            })
            .catch((error: unknown) => send({ type: "sinkIo.crashed", ...frame, reason: `settling retryLater answers failed: ${String(error)}` }));
        };
        disposeInner = runInnerAttempt(writer.attempt, plan.toWrite === input.messages ? input : { ...input, messages: plan.toWrite }, forward);
      },
      (error: unknown) => send({ type: "sinkIo.crashed", ...frame, reason: `looking up parked messages failed: ${error instanceof Error ? error.message : String(error)}` }),
    );
    return () => {
      stopped = true;
      disposeInner?.();
    };
  });
}
