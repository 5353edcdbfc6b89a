/**
 * "Every message of the attempt is ok, in the order given" as one answer, instead of one
 * `{ id, status: "ok" }` object per message that the session's writer then checks one by one
 * (issue 12: a source's and a `cat` forwarder's answers were ~50 bytes of garbage per message and
 * hop, and two passes over the batch). The sink session already takes that answer as one frame,
 * `sinkIo.allOk`; this is the runtime's way to produce it without building the results first.
 *
 *   forwarder ──ALL_OK──▶ allOkAttempt (sinkFunctionAttempt, isAllOkAnswer) ──sinkIo.allOk──▶ sink session
 *             └─answers──▶ (results + end of results, or allOk when all ok)
 *
 * Safe by construction: a function carries its all-ok form as a hidden property
 * (`withAllOkForm`), and a wrapper (gate, delayed redelivery, ordered waves, rate-limit observer)
 * returns a new function without it — so a function is driven through its all-ok form only when
 * no wrapper reads its results, and every wrapper still sees real ones. The failure log's wrapper
 * (failure-observing-sink.ts) passes an observed form on: an ALL_OK answer holds no failure.
 */
import { sinkFunctionAttempt, type Message, type SinkAnswer, type SinkAttempt, type SinkContext, type SinkResult } from "@weir/actors";

/** The answer "every message ok, in order". */
export const ALL_OK: unique symbol = Symbol("weir.allOk");
export type AllOk = typeof ALL_OK;

/** A sink function (or forwarder) that may answer {@link ALL_OK} instead of one result per message. */
export type AllOkSinkFunction = (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkAnswer[] | AllOk>;

const allOkForm = Symbol("weir.allOkForm");

/**
 * `write` (one result per message, as every caller expects) carrying `lean`, the same function
 * able to answer {@link ALL_OK}. `sinkConnectorFromFunction` drives the session through `lean`.
 */
export function withAllOkForm<F extends (...args: never[]) => unknown>(write: F, lean: AllOkSinkFunction): F {
  return Object.assign(write, { [allOkForm]: lean });
}

/** The all-ok form `write` carries, if any (never one of a wrapper of it). */
export function allOkFormOf(write: unknown): AllOkSinkFunction | undefined {
  return typeof write === "function" ? (write as { [allOkForm]?: AllOkSinkFunction })[allOkForm] : undefined;
}

/** What {@link ALL_OK} means, spelled out: one `ok` per message, in order. */
export function okResults(messages: readonly Message[]): SinkResult[] {
  const results: SinkResult[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i += 1) results[i] = { id: messages[i]!.id, status: "ok" };
  return results;
}

/** One attempt of `write`, as `sinkFunctionAttempt` (@weir/actors) runs one; an {@link ALL_OK} answer goes to the session as one `sinkIo.allOk` frame. */
export function allOkAttempt(write: AllOkSinkFunction): SinkAttempt {
  // An answer of retryLater goes on as it is, for the session to judge.
  return sinkFunctionAttempt(write as (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkResult[] | AllOk>, (answer): answer is AllOk => answer === ALL_OK);
}
