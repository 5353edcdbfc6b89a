import { fromSinkAttempts, fromSinkFunction, type SinkFunction, type SinkWriterLogic } from "@weir/actors";
import { allOkAttempt, allOkFormOf } from "./all-ok-answer.js";

/**
 * A sink as the runtime drives it: a long-lived writer per sink session (see `fromSinkAttempts`), an
 * optional `commit(epoch)` for transactional sinks, and `close()` at the end of the run.
 */
export interface SinkConnector {
  readonly writer: SinkWriterLogic;
  /** Makes an epoch durable; called once every partition is done with it (aligned commit). */
  readonly commit?: (epoch: number) => Promise<void>;
  /** The function behind `writer`, when there is one (fallback writes call it directly). */
  readonly write?: SinkFunction;
  close(): Promise<void>;
}

/**
 * The connector of a sink function. A function that carries an all-ok form (a source's or `cat`
 * forwarder, all-ok-answer.ts) is driven through it, so an attempt whose messages all went on is
 * answered with one frame and no result objects; `write` stays the plain function.
 */
export function sinkConnectorFromFunction(
  write: SinkFunction,
  extras: { commit?: (epoch: number) => Promise<void>; close?: () => Promise<void> } = {},
): SinkConnector {
  return {
    writer: writerOf(write),
    write,
    ...(extras.commit === undefined ? {} : { commit: extras.commit }),
    close: extras.close ?? (async () => undefined),
  };
}

export function isSinkConnector(value: unknown): value is SinkConnector {
  return typeof value === "object" && value !== null && "writer" in value;
}

function writerOf(write: SinkFunction): SinkWriterLogic {
  const lean = allOkFormOf(write);
  return lean === undefined ? fromSinkFunction(write) : fromSinkAttempts(allOkAttempt(lean));
}
