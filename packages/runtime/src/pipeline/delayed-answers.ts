import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import { delayedSinkFunction, type DelayedRedeliveryOptions } from "../flow/delayed-sink.js";
import { delayedSinkWriter } from "../flow/delayed-writer.js";

/** A user's sink connector with its retryLater answers parked: its function wrapped, or its writer (process sinks). */
export function withDelayedAnswers(connector: SinkConnector, delayed: DelayedRedeliveryOptions, functionBacked: boolean): SinkConnector {
  const commit = connector.commit === undefined ? {} : { commit: connector.commit };
  if (functionBacked && connector.write !== undefined) {
    return sinkConnectorFromFunction(delayedSinkFunction(connector.write, delayed), { ...commit, close: () => connector.close() });
  }
  return { ...connector, writer: delayedSinkWriter(connector.writer, delayed), close: () => connector.close() };
}
