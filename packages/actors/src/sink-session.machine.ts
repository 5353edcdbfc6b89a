/**
 * One sink session per partition — never shared — so one partition's frames can never complete
 * another's epoch (invariant I2, the class of numaflow#2516).
 *
 *                batcher.eot(p,e)              sinkIo.allOk, or the last result's endOfResults
 *   idle ────────────────────▶ writing ──────every message final──────▶ eotReceived (rests there;
 *   (count 0: done in the      │ sinkIo.sent ▶ awaitingResults │         its next EOT starts the
 *    EOT's own step)           │                               │         next attempt, as idle's does)
 *                              │ (from either of the two)      │
 *                              │ bad frame / timeout / crash   │ failures left
 *                              ▼                               ▼
 *                        protocolError ──retryBackoff──▶ writing ◀──retryBackoff── retrying
 *                              │ no attempt left               │ no attempt left
 *                              ▼                               ▼
 *                           finishing ◀─────────────────────────┘
 *                              ├──▶ fallingBack ⇄ fallbackBackoff ──▶ eotReceived
 *                              └──(dropped)──────────────────────────▶ eotReceived
 *   supervisor.stop (any state) ──▶ done
 *
 * An attempt is the top-level states `writing` (entered with the write request and the result timer)
 * and `awaitingResults` (after `sinkIo.sent`), which take its answers from one table; the result
 * timer covers both and is cancelled on every way out (issue 12, session 9: a compound `attempt`
 * around them cost XState ~2 KB of entry/exit work on each hot step).
 * The answer that ends an attempt chooses done / retrying / finishing on its own transition (the
 * guards read the work as its action will leave it), so an epoch answered all-ok is two steps —
 * its EOT's and its answer's — with no eventless step between epochs (issue 12, DESIGN §7).
 * `eotReceived`: every message of the last epoch with data is final and `sink.epochDone` is out.
 * Takes: `batcher.eot` (with the epoch's messages, as the batcher sends them; or after
 * `batcher.data` frames, which it takes too), `sinkIo.*` (from the `sinkWriter` actor: `sent`, `results`,
 * `endOfResults`, `allOk` — every result ok and the end of results in one frame — and `crashed`),
 * `supervisor.stop`.
 * Sends its writer (one long-lived actor, invoked once): `sinkWriter.write` on entering `writing`,
 * `sinkWriter.cancel` on leaving it before its final frame (sink-writer.ts).
 * Sends the parent: `sink.epochDone { partition, epoch, tallies }`, `sink.protocolError`.
 * Keeps: an epoch completes only when it holds exactly one final result for every id of
 * `(p, e)` and the adapter signalled end-of-results; anything else is a protocol error that is
 * counted, reported and redriven (only the unsettled subset is re-sent), never a silent wait.
 * A frame of another partition or epoch is reported and dropped: it neither merges into nor
 * ends the attempt in progress. Every message ends `ok | fallback | dropped`.
 */
import { and, assertEvent, assign, cancel, fromCallback, fromPromise, not, raise, sendParent, sendTo, setup } from "xstate";
import type { DataFrame, EotFrame, EpochDoneEvent, ProtocolErrorEvent, StopEvent } from "./epoch-protocol.js";
import type { Message } from "./message.js";
import { emptyTallies } from "./epoch-protocol.js";
import {
  canRetry,
  exhaust,
  findViolation,
  frameName,
  isEpochSettled,
  isStaleFrame,
  recordAllOk,
  recordResults,
  scheduleBackoff,
  settleAttempt,
  settledAtEnd,
  startAttempt,
  startEpoch,
  takeReadyEpoch,
  talliesAfterAllOk,
} from "./sink-session.logic.js";
import type {
  EpochWork,
  FallbackWriteInput,
  InboxEpoch,
  ProtocolViolation,
  SinkIoEvent,
  SinkSessionContext,
  SinkSessionInput,
  SinkWriteInput,
} from "./sink-session.types.js";
import type { SinkWriterInput, SinkWriterRequest } from "./sink-writer.js";

/**
 * The session's own result timeout, raised with a delay when an attempt's write is requested and
 * cancelled on every way out of the attempt: one timer for the whole attempt (`writing` and
 * `awaitingResults`), where an `after` on either state would restart on `sinkIo.sent`.
 */
export interface ResultTimeoutEvent {
  readonly type: "sinkSession.resultTimeout";
}

type SinkSessionEvent = DataFrame | EotFrame | SinkIoEvent | StopEvent | ResultTimeoutEvent;

/** The id of the attempt's result timer, for `cancel`. */
const resultTimer = "resultTimeout";

function requireWork(context: SinkSessionContext): EpochWork {
  if (context.work === null) throw new Error("sink session has no epoch in progress");
  return context.work;
}

/** An own-partition EOT for the epoch at the head of the inbox (or for an empty inbox). */
function completesFirstEpoch(context: SinkSessionContext, frame: EotFrame): boolean {
  if (frame.partition !== context.partition) return false;
  const head = context.inbox[0];
  return head === undefined || (head.epoch === frame.epoch && head.count === null);
}

/** An epoch's messages so far followed by a frame's: the frame's own array when it is the first. */
function withMessages(messages: readonly Message[], more: readonly Message[] | undefined): readonly Message[] {
  if (more === undefined || more.length === 0) return messages;
  return messages.length === 0 ? more : [...messages, ...more];
}

function appendToInbox(inbox: readonly InboxEpoch[], frame: DataFrame | EotFrame): InboxEpoch[] {
  const next = [...inbox];
  let index = next.findIndex((entry) => entry.epoch === frame.epoch);
  if (index < 0) {
    next.push({ epoch: frame.epoch, messages: [], count: null });
    index = next.length - 1;
  }
  const entry = next[index]!;
  // An EOT may carry the epoch's data itself (the batcher's one batch), after any DATA frames.
  next[index] =
    frame.type === "batcher.data"
      ? { ...entry, messages: withMessages(entry.messages, frame.messages) }
      : { ...entry, messages: withMessages(entry.messages, frame.messages), count: frame.count };
  return next;
}

/**
 * The inbox once an EOT that completes its first epoch (see `completesFirstEpoch`) is recorded,
 * and that epoch. With nothing waiting (the common case: the EOT carries the epoch's data) no
 * inbox is built at all.
 */
function takeEpochOfEot(inbox: readonly InboxEpoch[], frame: EotFrame): { readonly ready: InboxEpoch; readonly inbox: readonly InboxEpoch[] } {
  if (inbox.length === 0) return { ready: { epoch: frame.epoch, messages: frame.messages ?? [], count: frame.count }, inbox };
  const next = appendToInbox(inbox, frame);
  return { ready: next[0]!, inbox: next.slice(1) };
}

/**
 * `idle` and `eotReceived` wait for the next EOT alike (one definition, so the two cannot drift).
 * The eventless check is for epochs that became ready while an attempt ran (pipelined epochs); the
 * EOT that readies the inbox's first epoch starts its attempt, or completes it when empty, in its
 * own step.
 */
const restingState = {
  always: [
    { guard: "hasEmptyReadyEpoch", actions: ["reportEmptyEpochDone", "dropEmptyEpoch"] },
    { guard: "hasReadyEpoch", target: "writing", actions: "startEpoch" },
  ],
  on: {
    // The EOT of an epoch with data first: the common step is decided by one guard (issue 12).
    "batcher.eot": [
      { guard: "eotReadiesEpoch", target: "writing", actions: "startEpochOfEot" },
      { guard: "eotReadiesEmptyEpoch", actions: ["reportEmptyEpochOfEotDone", "dropEmptyEpochOfEot"] },
      { guard: "isOwnPartitionFrame", actions: "appendFrame" },
      { actions: "reportForeignFrame" },
    ],
  },
} as const;

/**
 * A protocol violation by a frame that may end its attempt (all-ok, end-of-results, crash): its
 * own attempt's final frame needs no cancel (the writer ended the attempt when it sent it).
 */
const leavingOnViolation = [
  // Checked first on the cheap attempt test, so a valid answer is checked for violations once.
  { guard: and([not("isOwnFinalFrame"), "breaksProtocol"]), target: "protocolError", actions: ["recordViolation", "cancelWrite", "cancelResultTimeout"] },
  { guard: "breaksProtocol", target: "protocolError", actions: ["recordViolation", "cancelResultTimeout"] },
] as const;

/**
 * What an attempt takes in either of its states, `writing` and `awaitingResults` (one table, so the
 * two cannot drift). Every transition that leaves the attempt cancels its result timer, except the
 * timer's own. An answer that ends the attempt decides where it goes on its own transition, from
 * the work as its action leaves it: done (eotReceived), a retry, or finishing (issue 12: no
 * eventless step after it). `eotReceived` is entered by every epoch whose every message is final.
 */
const attemptAnswers = {
  "sinkSession.resultTimeout": { target: "protocolError", actions: ["recordTimeout", "cancelWrite"] },
  "sinkIo.results": [
    { guard: "isForeignFrame", actions: "reportStrayFrame" },
    { guard: "isStaleFrame" },
    // A results frame never ends its attempt: leaving on it cancels the attempt.
    { guard: "breaksProtocol", target: "protocolError", actions: ["recordViolation", "cancelWrite", "cancelResultTimeout"] },
    { actions: "recordResults" },
  ],
  // Every result ok and the end of results, in one frame (the common case, see fromSinkFunction).
  // The answer that completes its epoch is checked first, so that step is decided by one guard
  // (each guard is an XState call with its own arguments, issue 12); the rest in their order.
  "sinkIo.allOk": [
    { guard: "allOkCompletesEpoch", target: "eotReceived", actions: ["reportDoneAfterAllOk", "dropWork", "cancelResultTimeout"] },
    { guard: "isForeignFrame", actions: "reportStrayFrame" },
    { guard: "isStaleFrame" },
    ...leavingOnViolation,
    // A valid answer the first guard did not take: fallback answers of earlier attempts are
    // still queued, nothing is left to retry, so on to them.
    { target: "finishing", actions: ["recordAllOk", "cancelResultTimeout"] },
  ],
  "sinkIo.endOfResults": [
    { guard: "isForeignFrame", actions: "reportStrayFrame" },
    { guard: "isStaleFrame" },
    ...leavingOnViolation,
    { guard: "endSettlesEpoch", target: "eotReceived", actions: ["reportDoneAtEnd", "dropWork", "cancelResultTimeout"] },
    { guard: "endLeavesRetry", target: "retrying", actions: ["scheduleRetryAtEnd", "cancelResultTimeout"] },
    { target: "finishing", actions: ["settleAtEnd", "cancelResultTimeout"] },
  ],
  "sinkIo.crashed": [{ guard: "isForeignFrame", actions: "reportStrayFrame" }, { guard: "isStaleFrame" }, ...leavingOnViolation],
} as const;

export const sinkSessionMachine = setup({
  types: {
    context: {} as SinkSessionContext,
    input: {} as SinkSessionInput,
    events: {} as SinkSessionEvent,
  },
  actors: {
    /**
     * The session's long-lived writer (invoked once): takes `sinkWriter.write` / `sinkWriter.cancel`
     * and sends `sinkIo.*` frames back. Supplied by the runtime (`fromSinkAttempts`, `fromSinkFunction`).
     */
    sinkWriter: fromCallback<SinkWriterRequest, SinkWriterInput>(() => {
      throw new Error("sinkWriter is not provided: supply it with sinkSessionMachine.provide({ actors: { sinkWriter } })");
    }),
    /** Writes messages to the fallback sink (e.g. a dead-letter queue); resolves once durable. */
    fallbackWriter: fromPromise<void, FallbackWriteInput>(async () => {
      throw new Error("fallbackWriter is not provided: supply it with sinkSessionMachine.provide({ actors: { fallbackWriter } })");
    }),
  },
  delays: {
    retryBackoff: ({ context }) => context.work?.nextDelayMs ?? 0,
    resultTimeout: ({ context }) => context.resultTimeoutMs,
  },
  guards: {
    isOwnPartitionFrame: ({ context, event }) => {
      assertEvent(event, ["batcher.data", "batcher.eot"]);
      return event.partition === context.partition;
    },
    hasEmptyReadyEpoch: ({ context }) => takeReadyEpoch(context.inbox)?.count === 0,
    // The EOT completes the inbox's first epoch (in idle: nothing else is waiting before it), so
    // it decides at once what the eventless check of `idle` would decide one step later.
    eotReadiesEmptyEpoch: ({ context, event }) => {
      assertEvent(event, "batcher.eot");
      return event.count === 0 && completesFirstEpoch(context, event);
    },
    eotReadiesEpoch: ({ context, event }) => {
      assertEvent(event, "batcher.eot");
      return event.count > 0 && completesFirstEpoch(context, event);
    },
    hasReadyEpoch: ({ context }) => takeReadyEpoch(context.inbox) !== undefined,
    isStaleFrame: ({ context, event }) => {
      assertEvent(event, ["sinkIo.sent", "sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      return isStaleFrame(requireWork(context), event);
    },
    // A frame of another partition or epoch says nothing about this attempt: it is reported and
    // dropped, and the attempt goes on. Treating it as a violation of this attempt would let a
    // foreign end-of-results complete an epoch whose results are all in (I2, numaflow#2516).
    isForeignFrame: ({ context, event }) => {
      assertEvent(event, ["sinkIo.sent", "sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      return event.partition !== context.partition || event.epoch !== requireWork(context).epoch;
    },
    isSettledAttemptFrame: ({ context, event }) => {
      assertEvent(event, ["sinkIo.sent", "sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      const work = context.work;
      return work !== null && event.partition === context.partition && event.epoch === work.epoch && event.attempt <= work.attempt;
    },
    breaksProtocol: ({ context, event }) => {
      assertEvent(event, ["sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      return findViolation(context.partition, requireWork(context), event) !== null;
    },
    // The attempt's own final frame (all-ok, end-of-results, crash): the writer ended the attempt
    // when it sent it, so leaving the attempt on it sends no `sinkWriter.cancel`.
    isOwnFinalFrame: ({ context, event }) => {
      assertEvent(event, ["sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      return event.attempt === requireWork(context).attempt;
    },
    // Where a valid answer that ends the attempt takes it, decided on the answer's own transition
    // from the work as that step's action will leave it (no eventless step after it, issue 12).
    // A valid all-ok answer, not stale, with nothing of the epoch queued for the fallback sink: the
    // epoch is done. It rules out what the other guards of `sinkIo.allOk` look for — a valid frame
    // names this partition and epoch (not foreign, no violation) — so checking it first changes no
    // outcome.
    allOkCompletesEpoch: ({ context, event }) => {
      assertEvent(event, "sinkIo.allOk");
      const work = requireWork(context);
      return work.fallbackQueue.length === 0 && !isStaleFrame(work, event) && findViolation(context.partition, work, event) === null;
    },
    endSettlesEpoch: ({ context }) => isEpochSettled(settledAtEnd(requireWork(context))),
    endLeavesRetry: ({ context }) => canRetry(settledAtEnd(requireWork(context)), context.retry),
    canRetry: ({ context }) => canRetry(requireWork(context), context.retry),
    hasFallbackQueue: ({ context }) => requireWork(context).fallbackQueue.length > 0,
  },
  actions: {
    appendFrame: assign({
      inbox: ({ context, event }) => {
        assertEvent(event, ["batcher.data", "batcher.eot"]);
        return appendToInbox(context.inbox, event);
      },
    }),
    reportForeignFrame: sendParent(({ context, event }): ProtocolErrorEvent => {
      assertEvent(event, ["batcher.data", "batcher.eot"]);
      return {
        type: "sink.protocolError",
        partition: context.partition,
        epoch: event.epoch,
        attempt: 0,
        code: "WRONG_PARTITION",
        message: `sink session ${context.partition} received ${event.type} for partition ${event.partition}; ignored`,
      };
    }),
    reportStrayFrame: sendParent(({ context, event }): ProtocolErrorEvent => {
      assertEvent(event, ["sinkIo.sent", "sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
      const current = context.work === null ? "no epoch in progress" : `epoch ${context.work.epoch} in progress`;
      return {
        type: "sink.protocolError",
        partition: context.partition,
        epoch: event.epoch,
        attempt: event.attempt,
        code: event.partition === context.partition ? "WRONG_EPOCH" : "WRONG_PARTITION",
        message: `${frameName(event.type)} for partition ${event.partition} epoch ${event.epoch} arrived with ${current}; not merged`,
      };
    }),
    // An idle partition's EOT(count 0) completes at once: it never holds up the join (I3).
    // A send and one assign, listed in that order: the send reads the context before the update.
    reportEmptyEpochDone: sendParent(({ context }): EpochDoneEvent => ({
      type: "sink.epochDone",
      partition: context.partition,
      epoch: takeReadyEpoch(context.inbox)!.epoch,
      tallies: emptyTallies,
    })),
    dropEmptyEpoch: assign(({ context }) => ({ inbox: context.inbox.slice(1), completedEpochs: context.completedEpochs + 1 })),
    requestWrite: sendTo("sinkWriter", ({ context }): SinkWriterRequest => {
      const work = requireWork(context);
      const input: SinkWriteInput = {
        vertex: context.vertex,
        partition: context.partition,
        epoch: work.epoch,
        attempt: work.attempt,
        messages: work.sending,
      };
      return { type: "sinkWriter.write", input };
    }),
    // The attempt's one result timer, set with its write (see `ResultTimeoutEvent`).
    scheduleResultTimeout: raise({ type: "sinkSession.resultTimeout" }, { delay: "resultTimeout", id: resultTimer }),
    cancelResultTimeout: cancel(resultTimer),
    // Leaving the attempt before its final frame (timeout, protocol error): the writer aborts it.
    // Listed on those transitions only: after its own final frame the writer has ended the attempt
    // already, and a stop ends the writer.
    cancelWrite: sendTo("sinkWriter", ({ context }): SinkWriterRequest => {
      const work = requireWork(context);
      return { type: "sinkWriter.cancel", epoch: work.epoch, attempt: work.attempt };
    }),
    // The EOT that readies the inbox's first epoch when it is empty (count 0): the inbox's first
    // epoch is the EOT's own (`completesFirstEpoch`), so the report is made from the event and the
    // inbox updated in one assign. An idle partition's EOT(count 0) never holds up the join (I3).
    reportEmptyEpochOfEotDone: sendParent(({ context, event }): EpochDoneEvent => {
      assertEvent(event, "batcher.eot");
      return { type: "sink.epochDone", partition: context.partition, epoch: event.epoch, tallies: emptyTallies };
    }),
    dropEmptyEpochOfEot: assign(({ context, event }) => {
      assertEvent(event, "batcher.eot");
      return { inbox: takeEpochOfEot(context.inbox, event).inbox, completedEpochs: context.completedEpochs + 1 };
    }),
    startEpochOfEot: assign(({ context, event }) => {
      assertEvent(event, "batcher.eot");
      const { ready, inbox } = takeEpochOfEot(context.inbox, event);
      return { work: startEpoch(ready), inbox };
    }),
    startEpoch: assign(({ context }) => {
      const ready = takeReadyEpoch(context.inbox)!;
      return { work: startEpoch(ready), inbox: context.inbox.slice(1) };
    }),
    startNextAttempt: assign({
      work: ({ context }) => {
        const work = requireWork(context);
        return startAttempt(work, work.unsettled);
      },
    }),
    recordResults: assign({
      work: ({ context, event }) => {
        assertEvent(event, "sinkIo.results");
        return recordResults(requireWork(context), event.results);
      },
    }),
    // The all-ok answer that settles the epoch: reported done and the work dropped, with no
    // settled copy of the work built (a send, then one assign).
    reportDoneAfterAllOk: sendParent(({ context }): EpochDoneEvent => {
      const work = requireWork(context);
      return { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies: talliesAfterAllOk(work) };
    }),
    // The all-ok answer of an attempt whose epoch still holds fallback answers of earlier attempts:
    // recorded and settled in one update, on the way to `finishing`.
    recordAllOk: assign({ work: ({ context }) => settleAttempt(recordAllOk(requireWork(context)), "no result") }),
    // A valid end-of-results: the attempt's results are complete. Its settled work (`settledAtEnd`)
    // is what the guards chose by; one of these records it.
    reportDoneAtEnd: sendParent(({ context }): EpochDoneEvent => {
      const work = settledAtEnd(requireWork(context));
      return { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies: work.tallies };
    }),
    scheduleRetryAtEnd: assign(({ context }) => scheduleBackoff(settledAtEnd(requireWork(context)), context.retry, context.rng)),
    settleAtEnd: assign({ work: ({ context }) => settledAtEnd(requireWork(context)) }),
    // The epoch is done and reported: the session keeps no work (one assign, after the report).
    dropWork: assign(({ context }) => ({ work: null, completedEpochs: context.completedEpochs + 1 })),
    recordViolation: assign({
      work: ({ context, event }) => {
        assertEvent(event, ["sinkIo.results", "sinkIo.allOk", "sinkIo.endOfResults", "sinkIo.crashed"]);
        return { ...requireWork(context), violation: findViolation(context.partition, requireWork(context), event) };
      },
    }),
    recordTimeout: assign({
      work: ({ context }) => {
        const work = requireWork(context);
        const violation: ProtocolViolation = {
          code: "RESULT_TIMEOUT",
          message: `no endOfResults frame within ${context.resultTimeoutMs}ms (${work.receivedCount} of ${work.sending.length} results, partition ${context.partition}, epoch ${work.epoch})`,
        };
        return { ...work, violation };
      },
    }),
    settleAfterViolation: assign({
      work: ({ context }) => {
        const work = requireWork(context);
        return settleAttempt(work, `protocol error: ${work.violation?.message ?? "unknown"}`);
      },
    }),
    reportViolation: sendParent(({ context }): ProtocolErrorEvent => {
      const work = requireWork(context);
      return {
        type: "sink.protocolError",
        partition: context.partition,
        epoch: work.epoch,
        attempt: work.attempt,
        code: work.violation?.code ?? "SINK_CRASHED",
        message: work.violation?.message ?? "unknown protocol error",
      };
    }),
    scheduleBackoff: assign(({ context }) => scheduleBackoff(requireWork(context), context.retry, context.rng)),
    exhaustUnsettled: assign({ work: ({ context }) => exhaust(requireWork(context), context.retry) }),
    reportEpochDone: sendParent(({ context }): EpochDoneEvent => {
      const work = requireWork(context);
      return { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies: work.tallies };
    }),
    // The fallback sink holds the queued messages: they count as `fallback`, and the epoch is done.
    reportEpochDoneAfterFallback: sendParent(({ context }): EpochDoneEvent => {
      const work = requireWork(context);
      const tallies = { ...work.tallies, fallback: work.tallies.fallback + work.fallbackQueue.length };
      return { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies };
    }),
  },
}).createMachine({
  id: "sinkSession",
  context: ({ input }) => ({
    vertex: input.vertex,
    partition: input.partition,
    retry: input.retry,
    resultTimeoutMs: input.resultTimeoutMs,
    inbox: [],
    work: null,
    rng: input.seed ?? input.partition + 1,
    completedEpochs: 0,
  }),
  initial: "idle",
  // One writer for the session's life; attempts are requests to it (no actor per attempt). An
  // attempt that throws is answered `sinkIo.crashed` by `fromSinkAttempts`; a writer whose own
  // logic fails leaves the session nothing to write with, so the session fails with its error.
  invoke: {
    id: "sinkWriter",
    src: "sinkWriter",
    input: ({ context }): SinkWriterInput => ({ vertex: context.vertex, partition: context.partition }),
  },
  on: {
    "batcher.data": [{ guard: "isOwnPartitionFrame", actions: "appendFrame" }, { actions: "reportForeignFrame" }],
    "batcher.eot": [{ guard: "isOwnPartitionFrame", actions: "appendFrame" }, { actions: "reportForeignFrame" }],
    // Frames outside an attempt: a settled attempt's stragglers are dropped; anything else is reported.
    "sinkIo.*": [{ guard: "isSettledAttemptFrame" }, { actions: "reportStrayFrame" }],
    "supervisor.stop": ".done",
  },
  states: {
    // Where a session waits before its first epoch with data; an idle partition's count-0 EOTs
    // complete here without leaving it.
    idle: restingState,
    // An attempt: its write is requested on entering `writing`, with the result timer that covers
    // the whole attempt. A writer that reports `sinkIo.sent` moves it on to `awaitingResults`;
    // both states take the attempt's answers alike (`attemptAnswers`).
    writing: {
      entry: ["requestWrite", "scheduleResultTimeout"],
      on: {
        ...attemptAnswers,
        "sinkIo.sent": [
          { guard: "isForeignFrame", actions: "reportStrayFrame" },
          { guard: "isStaleFrame" },
          { target: "awaitingResults" },
        ],
      },
    },
    awaitingResults: { on: attemptAnswers },
    // Every message of the last epoch with data ended ok | fallback | dropped (its EOT answered to
    // the end) and `sink.epochDone` went out; the session waits here for the next EOT, as in idle.
    // Entered on the transition that completed the epoch: no decision is left for an eventless step.
    eotReceived: restingState,
    retrying: {
      after: { retryBackoff: { target: "writing", actions: "startNextAttempt" } },
    },
    protocolError: {
      entry: ["settleAfterViolation", "reportViolation", "scheduleBackoff"],
      always: { guard: not("canRetry"), target: "finishing" },
      after: { retryBackoff: { target: "writing", actions: "startNextAttempt" } },
    },
    finishing: {
      entry: "exhaustUnsettled",
      always: [{ guard: "hasFallbackQueue", target: "fallingBack" }, { target: "eotReceived", actions: ["reportEpochDone", "dropWork"] }],
    },
    fallingBack: {
      invoke: {
        src: "fallbackWriter",
        input: ({ context }): FallbackWriteInput => {
          const work = requireWork(context);
          return { vertex: context.vertex, partition: context.partition, epoch: work.epoch, items: work.fallbackQueue };
        },
        onDone: { target: "eotReceived", actions: ["reportEpochDoneAfterFallback", "dropWork"] },
        // A failing fallback is retried without end: the message is never lost (DESIGN §2.1).
        onError: { target: "fallbackBackoff", actions: "scheduleBackoff" },
      },
    },
    fallbackBackoff: {
      after: { retryBackoff: "fallingBack" },
    },
    done: { type: "final" },
  },
});
