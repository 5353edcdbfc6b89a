/**
 * Counts a sink's failed messages into the failure log, so a sink that fails messages is heard
 * like a udf that does (issue #11: 100 messages × 3 attempts of a failing sink wrote no line).
 * Wraps the sink's function: `failure` answers, and a throw (which fails the whole attempt), are
 * recorded with the attempt number; the answers themselves pass on untouched.
 */
import type { SinkFunction } from "@weir/actors";
import { ALL_OK, allOkFormOf, withAllOkForm } from "../connectors/all-ok-answer.js";
import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import type { FailureLog } from "../observability/failure-log.js";

export function observeSinkFunction(vertex: string, write: SinkFunction, failures: FailureLog): SinkFunction {
  const observed: SinkFunction = async (messages, context) => {
    const results = await observeThrow(vertex, failures, write(messages, context), messages.length, context.attempt);
    recordFailures(vertex, failures, results, context.attempt);
    return results;
  };
  // A sink that can answer "all ok" (all-ok-answer.ts: `blackhole`) keeps that form, observed the same
  // way: an ALL_OK answer holds no failure to record.
  const lean = allOkFormOf(write);
  if (lean === undefined) return observed;
  return withAllOkForm(observed, async (messages, context) => {
    const answer = await observeThrow(vertex, failures, lean(messages, context), messages.length, context.attempt);
    if (answer !== ALL_OK) recordFailures(vertex, failures, answer, context.attempt);
    return answer;
  });
}

/** `answer`, with a throw of the sink recorded (it fails the whole attempt) and passed on. */
async function observeThrow<T>(vertex: string, failures: FailureLog, answer: Promise<T>, count: number, attempt: number): Promise<T> {
  try {
    return await answer;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    failures.record(vertex, "sinkFailed", count, `the sink threw: ${text}`, attempt);
    throw error;
  }
}

function recordFailures(vertex: string, failures: FailureLog, results: unknown, attempt: number): void {
  if (!Array.isArray(results)) return;
  for (const result of results as ReadonlyArray<{ status?: unknown; id?: unknown; error?: unknown } | null>) {
    if (result?.status === "failure") failures.record(vertex, "sinkFailed", 1, `'${String(result.id)}': ${String(result.error)}`, attempt);
  }
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
