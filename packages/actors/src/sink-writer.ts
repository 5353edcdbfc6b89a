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
 * Runs `write` once per attempt. A thrown error fails every message of the attempt (they go
 * down the retry path); results are passed on as they are, so missing, extra or duplicate ids
 * are caught by the session's protocol checks, not here.
 *
 * @example
 * const sinkWriter = fromSinkFunction(async (messages) => messages.map((m) => ({ id: m.id, status: "ok" })));
 * const session = sinkSessionMachine.provide({ actors: { sinkWriter } });
 */
export function fromSinkFunction(write: SinkFunction): SinkWriterLogic {
  return fromCallback<EventObject, SinkWriteInput>(({ input, sendBack }) => {
    const controller = new AbortController();
    const frame = { partition: input.partition, epoch: input.epoch, attempt: input.attempt };
    const send = (event: SinkIoEvent) => {
      if (!controller.signal.aborted) sendBack(event);
    };
    send({ type: "sinkIo.sent", ...frame });
    const context: SinkContext = { vertex: input.vertex, ...frame, signal: controller.signal };
    Promise.resolve()
      .then(() => write(input.messages, context))
      .then(
        (results) => {
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
        (error: unknown) => {
          const text = error instanceof Error ? error.message : String(error);
          const results = input.messages.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
          send({ type: "sinkIo.results", ...frame, results });
          send({ type: "sinkIo.endOfResults", ...frame });
        },
      );
    return () => controller.abort();
  });
}
