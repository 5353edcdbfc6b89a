import { fromSinkFunction, type SinkFunction, type SinkWriterLogic } from "@weir/actors";

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

export function sinkConnectorFromFunction(
  write: SinkFunction,
  extras: { commit?: (epoch: number) => Promise<void>; close?: () => Promise<void> } = {},
): SinkConnector {
  return {
    writer: fromSinkFunction(write),
    write,
    ...(extras.commit === undefined ? {} : { commit: extras.commit }),
    close: extras.close ?? (async () => undefined),
  };
}

export function isSinkConnector(value: unknown): value is SinkConnector {
  return typeof value === "object" && value !== null && "writer" in value;
}
