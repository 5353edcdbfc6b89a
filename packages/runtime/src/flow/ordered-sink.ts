/**
 * A sink vertex's sink under `ordered` (issue #15 part 2): each attempt is written in per-key
 * waves (ordered-waves.ts), one call of the sink per wave, so a key's messages reach the sink in
 * read order and a failing message holds back only the later messages of its own key.
 *
 *   session attempt ──▶ ordered sink ──wave 0──▶ sink   (first message of every key)
 *                                     ──wave 1──▶ sink   (next ones, keys that finished)
 *                                     …
 *                      ◀── one result per message, in input order (all ok: the allOk fast path)
 *
 * The sink sees the session's partition, epoch, attempt and signal on every wave. Its answers
 * pass on as they are — an id it did not answer stays unanswered, a result for an id it was not
 * given is passed along — so the session's protocol checks judge them as before.
 */
import type { Message, RetryPolicy, SinkFunction, SinkResult } from "@weir/actors";
import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import { OrderedError } from "./ordered-error.js";
import { heldBackReason, isLastAttempt, retryLaterUnderOrderedReason, runInKeyOrder } from "./ordered-waves.js";

export interface KeyOrderOptions {
  /** The vertex's retry strategy: in its last attempt a failure no longer holds its key back. */
  readonly retry: RetryPolicy;
  /** Told after an attempt that held messages back (for the log); never per message. */
  readonly onHeldBack?: (count: number, attempt: number) => void;
}

/**
 * `write` in per-key waves.
 *
 * @example
 * ```ts
 * const ordered = orderSinkFunction(write, { retry: retryPolicyFor(vertex) });
 * const connector = sinkConnectorFromFunction(ordered);
 * ```
 */
export function orderSinkFunction(write: SinkFunction, options: KeyOrderOptions): SinkFunction {
  return async (messages, context) => {
    const extras: SinkResult[] = [];
    const outcome = await runInKeyOrder<SinkResult>(
      messages,
      { lastAttempt: isLastAttempt(options.retry, context.attempt), signal: context.signal },
      {
        run: async (wave) => {
          let answers: unknown;
          try {
            answers = await write(wave, context);
          } catch (error) {
            // As fromSinkFunction does for a throw: the wave's messages fail, and are retried.
            const text = error instanceof Error ? error.message : String(error);
            return wave.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
          }
          return byPosition(wave, answers, extras).map(retryLaterAsFailure);
        },
        // A fallback answer ends its message (it goes to the fallback sink): its key goes on.
        blocks: (result) => result === undefined || (result.status !== "ok" && result.status !== "fallback"),
        heldBack: (message, blocker) => ({ id: message.id, status: "failure", error: heldBackReason(blocker) }),
      },
    );
    if (outcome.heldBack > 0) options.onHeldBack?.(outcome.heldBack, context.attempt);
    const results: SinkResult[] = [];
    for (const result of outcome.results) if (result !== undefined) results.push(result);
    for (const extra of extras) results.push(extra);
    return results;
  };
}

/** A `retryLater` answer under `ordered`: a retriable failure within the epoch (ordered-waves.ts). */
function retryLaterAsFailure(result: SinkResult | undefined): SinkResult | undefined {
  const answer = result as { readonly id: string; readonly status: string; readonly delayMs?: unknown } | undefined;
  if (answer?.status !== "retryLater") return result;
  return { id: answer.id, status: "failure", error: retryLaterUnderOrderedReason(answer.delayMs) };
}

/**
 * The sink's answers for `wave` by position. Answers it owes nobody (another id, a second one for
 * an id) go to `extras`, so the session sees them and calls them what they are.
 */
function byPosition(wave: readonly Message[], answers: unknown, extras: SinkResult[]): Array<SinkResult | undefined> {
  const positional = new Array<SinkResult | undefined>(wave.length);
  if (!Array.isArray(answers)) return positional; // no answer for any id: the session redrives them
  // The common case: one answer per message, in order.
  let inOrder = answers.length === wave.length;
  for (let i = 0; inOrder && i < answers.length; i += 1) inOrder = (answers[i] as SinkResult | null)?.id === wave[i]!.id;
  if (inOrder) return answers as SinkResult[];
  const index = new Map<string, number>();
  wave.forEach((message, i) => index.set(message.id, i));
  for (const answer of answers as SinkResult[]) {
    const position = answer == null ? undefined : index.get(answer.id);
    if (position === undefined || positional[position] !== undefined) extras.push(answer);
    else positional[position] = answer;
  }
  return positional;
}

/**
 * A vertex's sink connector under `ordered`. `functionBacked`: the connector's `writer` runs its
 * `write` (everything `sinkConnectorFromFunction` builds), so the function is wrapped. A writer
 * with no function behind it (a process sink, a custom writer) cannot be called wave by wave:
 * refused with the fix (the spec refuses a process sink under `ordered` before this).
 *
 * @example
 * ```ts
 * const ordered = orderSinkConnector("out", observed, { retry }, true);
 * ```
 */
export function orderSinkConnector(vertex: string, connector: SinkConnector, options: KeyOrderOptions, functionBacked: boolean): SinkConnector {
  if (!functionBacked || connector.write === undefined) {
    throw new OrderedError(
      "ORDERED_NEEDS_SINK_FUNCTION",
      `vertex '${vertex}' is ordered, but its sink has no function Weir can call once per key wave (a process sink or a custom writer); give it a sink function, or set ordered: { enabled: false } on the vertex`,
    );
  }
  return sinkConnectorFromFunction(orderSinkFunction(connector.write, options), {
    ...(connector.commit === undefined ? {} : { commit: connector.commit }),
    close: () => connector.close(),
  });
}
