/**
 * Turns `retryLater` answers of a sink or a map vertex's udf into parked messages (docs/
 * flow-control.md, "Delayed redelivery"). Wraps the function the sink session calls:
 *
 *   messages ─▶ parked already? (Redis: a delivery re-processed after a crash) ─yes─▶ answered ok
 *            └▶ state headers stripped ─▶ sink / forwarder ─▶ answers
 *                 retryLater ─▶ attempts left? ─yes─▶ park(copy with its state) ─▶ answered ok
 *                                              └no──▶ onFailure: fallback (with reason) | dropped | parked (retry)
 *
 * The session sees `ok` for a parked message, so its epoch commits and the partition flows on;
 * the message comes back through the vertex's readers after the delay. The park is stored before
 * the answer, so before the epoch's ack. Counts: a parked message is `retriedLater`, not `ok` (the
 * session's ok tally is corrected here), and is counted again when it ends.
 */
import { maxAttempts, type Message, type RetryPolicy, type SinkAnswer, type SinkContext, type SinkFunction, type SinkResult } from "@weir/actors";
import type { FailureLog } from "../observability/failure-log.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import { deliveryState, invalidDelay, parkIdentity, withoutState, withState } from "./delayed-state.js";
import type { DelayedStore, ParkItem } from "./delayed-store.js";

/** A sink function that may answer `retryLater` (a user's sink, a map vertex's forwarder). */
export type AnsweringSinkFunction = (messages: readonly Message[], context: SinkContext) => Promise<readonly SinkAnswer[]>;

export interface DelayedRedeliveryOptions {
  readonly vertex: string;
  readonly store: DelayedStore;
  readonly retry: RetryPolicy;
  readonly counts: VertexCounts;
  /** A sink vertex counts `written` from its ok tallies: corrected too. */
  readonly countsWritten: boolean;
  readonly failures: FailureLog;
  /** The failure kind a bad answer is logged as. */
  readonly failureKind: "sinkFailed" | "udfFailed";
}

/** What an attempt's messages became before the sink sees them. */
export interface AttemptPlan {
  /** The messages to write, without the runtime's state headers. */
  readonly toWrite: readonly Message[];
  /** `ok` answers for deliveries parked already (Redis, after a crash): not processed again. */
  readonly done: readonly SinkResult[];
  /** The messages as read, by id. */
  readonly originals: MessageIndex;
}

/**
 * `write` with `retryLater` answers parked.
 *
 * @example
 * ```ts
 * const sink = sinkConnectorFromFunction(delayedSinkFunction(write, { vertex: "out", store, retry, counts, countsWritten: true, failures, failureKind: "sinkFailed" }));
 * ```
 */
export function delayedSinkFunction(write: AnsweringSinkFunction, options: DelayedRedeliveryOptions): SinkFunction {
  return async (messages, context) => {
    const plan = await planAttempt(options, messages, context.partition);
    let results: readonly SinkAnswer[] = [];
    if (plan.toWrite.length > 0) {
      try {
        results = await write(plan.toWrite, context);
      } catch (error) {
        // As fromSinkFunction does for a throw, but the answers for deliveries parked already stand.
        if (plan.done.length === 0) throw error;
        const text = error instanceof Error ? error.message : String(error);
        results = plan.toWrite.map((message): SinkResult => ({ id: message.id, status: "failure", error: text }));
      }
    }
    const settled = await settleRetryLater(options, results, plan.originals, context);
    return plan.done.length === 0 ? settled : [...settled, ...plan.done];
  };
}

/** Strips state headers and, on a durable store, answers deliveries whose park is stored already. */
export async function planAttempt(options: DelayedRedeliveryOptions, messages: readonly Message[], partition: number): Promise<AttemptPlan> {
  const { store } = options;
  let stripped: Message[] | undefined;
  for (let i = 0; i < messages.length; i += 1) {
    const plain = withoutState(messages[i]!);
    if (plain === messages[i]) continue;
    stripped ??= messages.slice();
    stripped[i] = plain;
  }
  const originals = lazyIndex(messages);
  if (!store.durable || messages.length === 0) return { toWrite: stripped ?? messages, done: [], originals };
  const parked = await store.parkedAlready(partition, messages.map((message) => parkIdentity(message)));
  if (!parked.includes(true)) return { toWrite: stripped ?? messages, done: [], originals };
  const toWrite: Message[] = [];
  const done: SinkResult[] = [];
  parked.forEach((isParked, i) => {
    if (isParked) done.push({ id: messages[i]!.id, status: "ok" });
    else toWrite.push(stripped?.[i] ?? messages[i]!);
  });
  takeBackOk(options, done.length);
  options.counts.deduped += done.length;
  options.failures.record(options.vertex, "deduped", done.length, "parked for a delayed redelivery already (by a worker that died before its epoch committed): not processed again");
  return { toWrite, done, originals };
}

/** Replaces every `retryLater` answer: parked (`ok`), or ended by `onFailure`, or failed for a bad delay. */
export async function settleRetryLater(
  options: DelayedRedeliveryOptions,
  results: readonly SinkAnswer[],
  originals: MessageIndex,
  context: SinkContext,
): Promise<readonly SinkResult[]> {
  // Anything but an array goes to the session as it is, to be judged there.
  if (!Array.isArray(results) || !results.some((result) => result?.status === "retryLater")) return results as readonly SinkResult[];
  const { retry, vertex, failures, counts } = options;
  const replaced = new Map<string, SinkResult>();
  const items: ParkItem[] = [];
  let dropped = 0;
  for (const result of results) {
    if (result?.status !== "retryLater" || replaced.has(result.id)) continue;
    const original = originals.get(result.id);
    if (original === undefined) continue; // an id the attempt did not hold: the session judges it
    const bad = invalidDelay(result.delayMs);
    if (bad !== undefined) {
      failures.record(vertex, options.failureKind, 1, `'${result.id}': ${bad}`, context.attempt);
      replaced.set(result.id, { id: result.id, status: "failure", error: bad });
      continue;
    }
    const state = deliveryState(original);
    const spent = state.attemptsSpent + context.attempt;
    if (retry.onFailure !== "retry" && spent >= maxAttempts(retry)) {
      const reason = `answered retryLater at attempt ${spent} of ${maxAttempts(retry)} (retryStrategy steps): retries exhausted`;
      if (retry.onFailure === "fallback") {
        replaced.set(result.id, { id: result.id, status: "fallback", reason });
      } else {
        replaced.set(result.id, { id: result.id, status: "ok" });
        dropped += 1;
        failures.record(vertex, "dropped", 1, `'${result.id}' ${reason} (onFailure: drop)`);
      }
      continue;
    }
    items.push({ identity: parkIdentity(original, state), message: withState(original, { parks: state.parks + 1, attemptsSpent: spent }), delayMs: result.delayMs });
    replaced.set(result.id, { id: result.id, status: "ok" });
  }
  if (items.length > 0) {
    try {
      await options.store.park(context.partition, items);
    } catch (error) {
      // Not parked, so not answered ok: the session retries them like any failure.
      const text = `could not park the message for retryLater: ${error instanceof Error ? error.message : String(error)}`;
      for (const item of items) replaced.set(item.message.id, { id: item.message.id, status: "failure", error: text });
      failures.record(vertex, options.failureKind, items.length, text, context.attempt);
      items.length = 0;
    }
  }
  if (items.length > 0) {
    counts.retriedLater += items.length;
    const delays = items.map((item) => item.delayMs);
    failures.record(vertex, "retriedLater", items.length, `delay ${Math.min(...delays)}–${Math.max(...delays)} ms`, context.attempt);
  }
  takeBackOk(options, items.length + dropped);
  counts.dropped += dropped;
  // A retryLater left unreplaced names an id the attempt did not hold: the session calls it a failure.
  return results.map((result): SinkResult => (result?.status === "retryLater" ? (replaced.get(result.id) ?? { id: result.id, status: "failure", error: "retryLater for an id this attempt did not hold" }) : result));
}

/**
 * Messages answered `ok` to the session that did not end ok here (parked, dropped, or parked
 * already): the session's ok tally will count them when the epoch commits, so they are taken
 * back out now.
 */
function takeBackOk(options: DelayedRedeliveryOptions, count: number): void {
  if (count === 0) return;
  options.counts.ok -= count;
  if (options.countsWritten) options.counts.written -= count;
}

/** The messages of an attempt by id, indexed on first use (most attempts never need it). */
export interface MessageIndex {
  get(id: string): Message | undefined;
}

function lazyIndex(messages: readonly Message[]): MessageIndex {
  let index: Map<string, Message> | undefined;
  return { get: (id) => (index ??= new Map(messages.map((message) => [message.id, message]))).get(id) };
}
