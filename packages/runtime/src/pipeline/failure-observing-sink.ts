/**
 * Counts a sink's failed messages into the failure log, so a sink that fails messages is heard
 * like a udf that does (issue #11: 100 messages × 3 attempts of a failing sink wrote no line).
 * Wraps the sink's function: `failure` answers, and a throw (which fails the whole attempt), are
 * recorded with the attempt number; the answers themselves pass on untouched.
 */
import type { SinkFunction } from "@weir/actors";
import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import type { FailureLog } from "../observability/failure-log.js";

export function observeSinkFunction(vertex: string, write: SinkFunction, failures: FailureLog): SinkFunction {
  return async (messages, context) => {
    let results: Awaited<ReturnType<SinkFunction>>;
    try {
      results = await write(messages, context);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      failures.record(vertex, "sinkFailed", messages.length, `the sink threw: ${text}`, context.attempt);
      throw error;
    }
    if (Array.isArray(results)) {
      for (const result of results) {
        if (result?.status === "failure") failures.record(vertex, "sinkFailed", 1, `'${result.id}': ${String(result.error)}`, context.attempt);
      }
    }
    return results;
  };
}

/**
 * The connector with its function observed, for a connector whose writer is built from its
 * `write` (sinkConnectorFromFunction). Any other (a process sink, whose `write` serves fallback
 * writes only; a custom writer) must not be passed: its frames go straight to the sink session.
 */
export function observeSinkConnector(vertex: string, connector: SinkConnector, failures: FailureLog): SinkConnector {
  if (connector.write === undefined) return connector;
  return sinkConnectorFromFunction(observeSinkFunction(vertex, connector.write, failures), {
    ...(connector.commit === undefined ? {} : { commit: connector.commit }),
    close: () => connector.close(),
  });
}
