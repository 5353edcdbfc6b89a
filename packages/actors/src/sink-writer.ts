/**
 * Sink adapters as actor logic. A session invokes one `sinkWriter` per attempt; the writer
 * sends `sinkIo.*` frames back. `fromSinkFunction` adapts the common case — a function that
 * takes a batch and resolves with one result per message — to that protocol.
 */
import { fromCallback, type CallbackActorLogic, type EventObject } from "xstate";
import type { Message, SinkResult } from "./message.js";
import type { SinkIoEvent, SinkWriteInput } from "./sink-session.types.js";

/** What a sink function is told about the batch it writes. */
export interface SinkContext {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  /** 1 for the first attempt; the retry strategy's later attempts count up. */
  readonly attempt: number;
  /** Aborted when the session gives up on the attempt (timeout, stop). */
  readonly signal: AbortSignal;
}

/** A sink as users write it: one result per message id (DESIGN §4.1). */
export type SinkFunction = (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkResult[]>;

export type SinkWriterLogic = CallbackActorLogic<EventObject, SinkWriteInput>;

/**
 * Runs `write` once per attempt, and sends no `sinkIo.sent` (the attempt stays `writing` until
 * the function answers; `awaitingResults` is for sinks whose sending and answering are apart,
 * like process sinks). A thrown error fails every message of the attempt (they go
 * down the retry path); results are passed on as they are, so missing, extra or duplicate ids
 * are caught by the session's protocol checks, not here. When the results answer `ok` for
 * every message, in the order given — what most sinks return — they go back as one
 * `sinkIo.allOk` frame instead of `sinkIo.results` + `sinkIo.endOfResults`, so the session
 * builds nothing per message.
 *
 * @example
 * const sinkWriter = fromSinkFunction(async (messages) => messages.map((m) => ({ id: m.id, status: "ok" })));
 * const session = sinkSessionMachine.provide({ actors: { sinkWriter } });
 */
export function fromSinkFunction(write: SinkFunction): SinkWriterLogic {
  return fromCallback<EventObject, SinkWriteInput>(({ input, sendBack }) => {
    const controller = new AbortController();
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    // `stopped`: the session left the attempt, frames would only be dropped. `settled`: the sink
    // answered, so there is nothing left to abort (an abort costs a DOMException with a stack).
    let stopped = false;
    let settled = false;
    const send = (event: SinkIoEvent) => {
      if (!stopped) sendBack(event);
    };
    // No `sinkIo.sent`: for a function the call is the write, and its answer comes as one frame,
    // so the attempt stays `writing` until then (one XState event less per epoch, issue 12).
    const context: SinkContext = { vertex: input.vertex, ...frame, signal: controller.signal };
    Promise.resolve()
      .then(() => write(input.messages, context))
      .then(
        (results) => {
          settled = true;
          if (isAllOk(input.messages, results)) {
            send({ type: "sinkIo.allOk", ...frame });
            return;
          }
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
        (error: unknown) => {
          settled = true;
          const text = error instanceof Error ? error.message : String(error);
          const results = input.messages.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
      );
    return () => {
      stopped = true;
      if (!settled) controller.abort();
    };
  });
}

/**
 * True when `results` holds exactly one `ok` for each message, position by position. Anything
 * else (another order, a failure, a missing or extra result, not an array) goes to the session
 * as it is, to be judged by the protocol rules.
 */
export function isAllOk(messages: readonly Message[], results: unknown): boolean {
  if (!Array.isArray(results) || results.length !== messages.length) return false;
  for (let i = 0; i < results.length; i += 1) {
    const result = results[i] as SinkResult | null | undefined;
    if (result == null || result.status !== "ok" || result.id !== messages[i]!.id) return false;
  }
  return true;
}
