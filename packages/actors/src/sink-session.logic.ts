/**
 * The sink session's bookkeeping as pure functions, so the machine file reads as the protocol
 * and these rules can be tested on their own.
 */
import { emptyTallies, type EpochTallies } from "./epoch-protocol.js";
import type { Message, SinkResult } from "./message.js";
import { backoffDelay, maxAttempts, nextRandom, type RetryPolicy } from "./retry-policy.js";
import type { EpochWork, FallbackItem, InboxEpoch, ProtocolViolation, SinkIoEvent } from "./sink-session.types.js";

/** `received` of an attempt that has no `sinkIo.results` yet: nothing is allocated per attempt. */
const NOTHING_RECEIVED: ReadonlyArray<SinkResult | undefined> = Object.freeze([]);
/** `lastErrors` of an epoch no attempt has failed yet. */
const NO_ERRORS: Readonly<Record<string, string>> = Object.freeze({});

/** The epoch's first attempt, built as one object (no intermediate work copied into the attempt). */
export function startEpoch(entry: InboxEpoch): EpochWork {
  return {
    epoch: entry.epoch,
    messages: entry.messages,
    attempt: 1,
    sending: entry.messages,
    received: NOTHING_RECEIVED,
    receivedCount: 0,
    allOk: false,
    endOfResults: false,
    violation: null,
    unsettled: [],
    lastErrors: NO_ERRORS,
    fallbackQueue: [],
    tallies: { ...emptyTallies, messages: entry.messages.length },
    nextDelayMs: 0,
  };
}

/** Begins the next attempt with `messages`: only the unsettled subset is ever re-sent. */
export function startAttempt(work: EpochWork, messages: readonly Message[]): EpochWork {
  const isRetry = work.attempt > 0;
  return {
    ...work,
    attempt: work.attempt + 1,
    sending: messages,
    received: NOTHING_RECEIVED,
    receivedCount: 0,
    allOk: false,
    endOfResults: false,
    violation: null,
    unsettled: [],
    tallies: isRetry ? { ...work.tallies, retries: work.tallies.retries + messages.length } : work.tallies,
  };
}

/**
 * A `sinkIo.*` event as the sink's own protocol calls it (docs/protocol.md), for messages users
 * read: they know `endOfResults`, not Weir's internal event names.
 */
export function frameName(type: SinkIoEvent["type"]): string {
  switch (type) {
    case "sinkIo.results":
      return "results frame";
    case "sinkIo.allOk":
      return "results frame (all ok)";
    case "sinkIo.endOfResults":
      return "endOfResults frame";
    case "sinkIo.crashed":
      return "crash report";
    case "sinkIo.sent":
      return "eot (attempt sent)";
  }
}

/**
 * Checks one frame against the attempt in progress. `null` means the frame is valid.
 * Stale frames (an attempt this session already abandoned) are not violations: see `isStaleFrame`.
 */
export function findViolation(partition: number, work: EpochWork, frame: SinkIoEvent): ProtocolViolation | null {
  if (frame.partition !== partition) {
    return {
      code: "WRONG_PARTITION",
      message: `partition ${partition} received a ${frameName(frame.type)} for partition ${frame.partition}`,
    };
  }
  if (frame.epoch !== work.epoch) {
    return {
      code: "WRONG_EPOCH",
      message: `partition ${partition} is on epoch ${work.epoch} but received a ${frameName(frame.type)} for epoch ${frame.epoch}`,
    };
  }
  if (frame.type === "sinkIo.crashed") {
    return { code: "SINK_CRASHED", message: `the sink of partition ${partition} crashed: ${frame.reason}` };
  }
  if (frame.type === "sinkIo.results") {
    const index = positionsOf(work.sending);
    const seen = new Uint8Array(work.sending.length);
    for (const result of frame.results) {
      const position = index.get(result.id);
      if (position === undefined) {
        return {
          code: "UNKNOWN_ID",
          message: `result for id '${result.id}', which is not in epoch ${work.epoch} attempt ${work.attempt} of partition ${partition}`,
        };
      }
      if (work.received[position] !== undefined || seen[position] === 1) {
        return { code: "DUPLICATE_RESULT", message: `a second result for id '${result.id}' in epoch ${work.epoch}` };
      }
      seen[position] = 1;
    }
  }
  if (frame.type === "sinkIo.allOk" && work.receivedCount > 0) {
    return {
      code: "DUPLICATE_RESULT",
      message: `an all-ok frame after ${work.receivedCount} results of epoch ${work.epoch} attempt ${work.attempt} (partition ${partition}): those ids would have two results`,
    };
  }
  if (frame.type === "sinkIo.endOfResults" && work.receivedCount < work.sending.length) {
    return {
      code: "EARLY_END_OF_RESULTS",
      message: `endOfResults after ${work.receivedCount} of ${work.sending.length} results (partition ${partition}, epoch ${work.epoch})`,
    };
  }
  return null;
}

export function isStaleFrame(work: EpochWork, frame: SinkIoEvent): boolean {
  return frame.epoch === work.epoch && frame.attempt < work.attempt;
}

/** Records a frame's results by position; the frame was checked by `findViolation` first. */
export function recordResults(work: EpochWork, results: readonly SinkResult[]): EpochWork {
  const index = positionsOf(work.sending);
  // The common case — every result in one frame — needs no copy of an empty array.
  const received = work.receivedCount === 0 ? new Array<SinkResult | undefined>(work.sending.length) : [...work.received];
  for (const result of results) received[index.get(result.id)!] = result;
  return { ...work, received, receivedCount: work.receivedCount + results.length };
}

/**
 * Records a `sinkIo.allOk` frame (checked by `findViolation` first): every message of the attempt
 * has its result, `ok`, and the results are complete. No per-message data is built.
 */
export function recordAllOk(work: EpochWork): EpochWork {
  return { ...work, allOk: true, receivedCount: work.sending.length, endOfResults: true };
}

/**
 * Where each id of an attempt sits in its `sending` list. Derived data, so it lives in a cache
 * keyed by the (immutable) list, not in the machine's context.
 */
const positionCache = new WeakMap<readonly Message[], Map<string, number>>();

export function positionsOf(sending: readonly Message[]): Map<string, number> {
  let positions = positionCache.get(sending);
  if (positions === undefined) {
    positions = new Map();
    for (let i = 0; i < sending.length; i += 1) positions.set(sending[i]!.id, i);
    positionCache.set(sending, positions);
  }
  return positions;
}

export function hasAllResults(work: EpochWork): boolean {
  return work.endOfResults && work.receivedCount === work.sending.length;
}

/**
 * The tallies of an epoch whose attempt was answered `sinkIo.allOk` and that has nothing queued
 * for the fallback sink: the epoch is done, and no settled copy of its work is built.
 */
export function talliesAfterAllOk(work: EpochWork): EpochTallies {
  return { ...work.tallies, ok: work.tallies.ok + work.sending.length };
}

/**
 * The attempt as a valid `sinkIo.endOfResults` leaves it: results complete and settled. The
 * guards that choose where the end-of-results goes (done, retry, fallback) and the action that
 * records it all need it, so it is computed once per work object (the work is immutable).
 */
const settledAtEndCache = new WeakMap<EpochWork, EpochWork>();

export function settledAtEnd(work: EpochWork): EpochWork {
  let settled = settledAtEndCache.get(work);
  if (settled === undefined) {
    settled = settleAttempt({ ...work, endOfResults: true }, "no result");
    settledAtEndCache.set(work, settled);
  }
  return settled;
}

/** Every message of the epoch is final (`ok` or dropped) and nothing waits for the fallback sink. */
export function isEpochSettled(work: EpochWork): boolean {
  return work.unsettled.length === 0 && work.fallbackQueue.length === 0;
}

/**
 * Ends the attempt: `ok` results are final, `fallback` answers queue for the fallback sink,
 * failures and messages without a result (after a protocol error) stay unsettled.
 */
export function settleAttempt(work: EpochWork, missingReason: string): EpochWork {
  if (work.allOk) {
    return { ...work, unsettled: [], tallies: { ...work.tallies, ok: work.tallies.ok + work.sending.length } };
  }
  let ok = 0;
  const fallbackQueue: FallbackItem[] = [...work.fallbackQueue];
  const unsettled: Message[] = [];
  const lastErrors: Record<string, string> = { ...work.lastErrors };
  for (let i = 0; i < work.sending.length; i += 1) {
    const message = work.sending[i]!;
    const result = work.received[i];
    if (result?.status === "ok") {
      ok += 1;
    } else if (result?.status === "fallback") {
      fallbackQueue.push({ message, reason: result.reason, attempts: work.attempt });
    } else {
      unsettled.push(message);
      lastErrors[message.id] = result?.status === "failure" ? result.error : missingReason;
    }
  }
  return { ...work, unsettled, lastErrors, fallbackQueue, tallies: { ...work.tallies, ok: work.tallies.ok + ok } };
}

export function canRetry(work: EpochWork, policy: RetryPolicy): boolean {
  return work.unsettled.length > 0 && (work.attempt < maxAttempts(policy) || policy.onFailure === "retry");
}

/** Applies `onFailure` to what is still unsettled once no attempt is left. */
export function exhaust(work: EpochWork, policy: RetryPolicy): EpochWork {
  if (work.unsettled.length === 0) return work;
  if (policy.onFailure === "drop") {
    return { ...work, unsettled: [], tallies: { ...work.tallies, dropped: work.tallies.dropped + work.unsettled.length } };
  }
  const exhausted = work.unsettled.map((message) => ({
    message,
    reason: `retries exhausted after ${work.attempt} attempts: ${work.lastErrors[message.id] ?? "unknown error"}`,
    attempts: work.attempt,
  }));
  return { ...work, unsettled: [], fallbackQueue: [...work.fallbackQueue, ...exhausted] };
}

export function scheduleBackoff(work: EpochWork, policy: RetryPolicy, rng: number): { work: EpochWork; rng: number } {
  const draw = nextRandom(rng);
  return { work: { ...work, nextDelayMs: backoffDelay(policy, work.attempt, draw.value) }, rng: draw.state };
}

export function takeReadyEpoch(inbox: readonly InboxEpoch[]): InboxEpoch | undefined {
  const head = inbox[0];
  return head !== undefined && head.count !== null ? head : undefined;
}
