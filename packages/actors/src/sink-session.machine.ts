/**
 * One sink session per partition — never shared — so one partition's frames can never complete
 * another's epoch (invariant I2, the class of numaflow#2516).
 *
 *            batcher.eot(p,e)        all results + end-of-results, or sinkIo.allOk
 *   idle ────────────────────▶ attempt ────────────────────────────▶ eotReceived ──every message settled──▶ idle
 *    ▲  (empty epoch: done     │ writing → awaitingResults             │          (sink.epochDone)
 *    │   at once)              │ bad frame / timeout / crash           │ failures left
 *    │                         ▼                                       ▼
 *    │                   protocolError ──retryBackoff──▶ attempt ◀──retryBackoff── retrying
 *    │                         │ no attempt left                       │ no attempt left
 *    │                         ▼                                       ▼
 *    └──sink.epochDone──── finishing ◀──────────────────────────────────┘
 *                             └──▶ fallingBack ⇄ fallbackBackoff
 *   supervisor.stop (any state) ──▶ done
 *
 * Takes: `batcher.eot` (with the epoch's messages, as the batcher sends them; or after
 * `batcher.data` frames, which it takes too), `sinkIo.*` (from the `sinkWriter` actor: `sent`, `results`,
 * `endOfResults`, `allOk` — every result ok and the end of results in one frame — and `crashed`),
 * `supervisor.stop`.
 * Sends its writer (one long-lived actor, invoked once): `sinkWriter.write` on entering an attempt,
 * `sinkWriter.cancel` on leaving it before its final frame (sink-writer.ts).
 * Sends the parent: `sink.epochDone { partition, epoch, tallies }`, `sink.protocolError`.
 * Keeps: an epoch completes only when it holds exactly one final result for every id of
 * `(p, e)` and the adapter signalled end-of-results; anything else is a protocol error that is
 * counted, reported and redriven (only the unsettled subset is re-sent), never a silent wait.
 * A frame of another partition or epoch is reported and dropped: it neither merges into nor
 * ends the attempt in progress. Every message ends `ok | fallback | dropped`.
 */
import { assertEvent, assign, enqueueActions, fromCallback, fromPromise, not, sendParent, sendTo, setup } from "xstate";
import type { DataFrame, EotFrame, EpochDoneEvent, ProtocolErrorEvent, StopEvent } from "./epoch-protocol.js";
import type { Message } from "./message.js";
import { emptyTallies } from "./epoch-protocol.js";
import {
  canRetry,
  exhaust,
  findViolation,
  frameName,
  hasAllResults,
  isStaleFrame,
  recordAllOk,
  recordResults,
  scheduleBackoff,
  settleAttempt,
  startAttempt,
  startEpoch,
  takeReadyEpoch,
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

type SinkSessionEvent = DataFrame | EotFrame | SinkIoEvent | StopEvent;

/** The frames that end their attempt: the writer ends the attempt itself when it sends one. */
function isFinalFrameOf(work: EpochWork | null, partition: number, event: SinkSessionEvent): boolean {
  return (
    work !== null &&
    (event.type === "sinkIo.allOk" || event.type === "sinkIo.endOfResults" || event.type === "sinkIo.crashed") &&
    event.partition === partition &&
    event.epoch === work.epoch &&
    event.attempt === work.attempt
  );
}

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
    hasAllResults: ({ context }) => hasAllResults(requireWork(context)),
    canRetry: ({ context }) => canRetry(requireWork(context), context.retry),
    hasFallbackQueue: ({ context }) => requireWork(context).fallbackQueue.length > 0,
    isEpochSettled: ({ context }) => {
      const work = requireWork(context);
      return work.unsettled.length === 0 && work.fallbackQueue.length === 0;
    },
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
    completeEmptyEpoch: enqueueActions(({ context, enqueue }) => {
      const ready = takeReadyEpoch(context.inbox)!;
      const done: EpochDoneEvent = { type: "sink.epochDone", partition: context.partition, epoch: ready.epoch, tallies: emptyTallies };
      enqueue.sendParent(done);
      enqueue.assign({ inbox: context.inbox.slice(1), completedEpochs: context.completedEpochs + 1 });
    }),
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
    // Leaving the attempt before its final frame (timeout, protocol error): the writer aborts it.
    // After its own final frame the writer has ended it already, and a stop ends the writer.
    cancelWrite: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === "supervisor.stop" || isFinalFrameOf(context.work, context.partition, event)) return;
      const work = requireWork(context);
      enqueue.sendTo("sinkWriter", { type: "sinkWriter.cancel", epoch: work.epoch, attempt: work.attempt } satisfies SinkWriterRequest);
    }),
    // The EOT that readies the inbox's first epoch, recorded and acted on in one context update
    // (each assign copies the context): an empty epoch completes at once, so an idle partition's
    // EOT(count 0) never holds up the join (I3).
    completeEmptyEpochOfEot: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, "batcher.eot");
      const { ready, inbox } = takeEpochOfEot(context.inbox, event);
      const done: EpochDoneEvent = { type: "sink.epochDone", partition: context.partition, epoch: ready.epoch, tallies: emptyTallies };
      enqueue.sendParent(done);
      enqueue.assign({ inbox, completedEpochs: context.completedEpochs + 1 });
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
    // The all-ok answer, recorded and its attempt settled in one context update (issue 12: each
    // assign copies the context and rebuilds the snapshot); eotReceived has nothing left to settle.
    recordAllOk: assign({ work: ({ context }) => settleAttempt(recordAllOk(requireWork(context)), "no result") }),
    markEndOfResults: assign({ work: ({ context }) => ({ ...requireWork(context), endOfResults: true }) }),
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
    settleAttempt: assign({ work: ({ context }) => settleAttempt(requireWork(context), "no result") }),
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
    completeEpoch: enqueueActions(({ context, enqueue }) => {
      const work = requireWork(context);
      const done: EpochDoneEvent = { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies: work.tallies };
      enqueue.sendParent(done);
      enqueue.assign({ work: null, completedEpochs: context.completedEpochs + 1 });
    }),
    // The fallback sink holds the queued messages: they count as `fallback`, and the epoch is done
    // (one context update: each assign copies the context and rebuilds the snapshot).
    completeEpochAfterFallback: enqueueActions(({ context, enqueue }) => {
      const work = requireWork(context);
      const tallies = { ...work.tallies, fallback: work.tallies.fallback + work.fallbackQueue.length };
      const done: EpochDoneEvent = { type: "sink.epochDone", partition: context.partition, epoch: work.epoch, tallies };
      enqueue.sendParent(done);
      enqueue.assign({ work: null, completedEpochs: context.completedEpochs + 1 });
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
    idle: {
      // For epochs that were ready before the session came back to idle (pipelined epochs).
      always: [
        { guard: "hasEmptyReadyEpoch", actions: "completeEmptyEpoch" },
        { guard: "hasReadyEpoch", target: "attempt", actions: "startEpoch" },
      ],
      on: {
        "batcher.eot": [
          { guard: "eotReadiesEmptyEpoch", actions: "completeEmptyEpochOfEot" },
          { guard: "eotReadiesEpoch", target: "attempt", actions: "startEpochOfEot" },
          { guard: "isOwnPartitionFrame", actions: "appendFrame" },
          { actions: "reportForeignFrame" },
        ],
      },
    },
    attempt: {
      initial: "writing",
      entry: "requestWrite",
      exit: "cancelWrite",
      after: { resultTimeout: { target: "protocolError", actions: "recordTimeout" } },
      // The attempt is settled on the way to eotReceived (here and with the all-ok answer), not in
      // eotReceived's entry: one context update per step (issue 12).
      always: { guard: "hasAllResults", target: "eotReceived", actions: "settleAttempt" },
      on: {
        "sinkIo.results": [
          { guard: "isForeignFrame", actions: "reportStrayFrame" },
          { guard: "isStaleFrame" },
          { guard: "breaksProtocol", target: "protocolError", actions: "recordViolation" },
          { actions: "recordResults" },
        ],
        // Every result ok and the end of results, in one frame (the common case, see fromSinkFunction).
        "sinkIo.allOk": [
          { guard: "isForeignFrame", actions: "reportStrayFrame" },
          { guard: "isStaleFrame" },
          { guard: "breaksProtocol", target: "protocolError", actions: "recordViolation" },
          // Every result is in: straight to eotReceived (what `hasAllResults` would do one step later).
          // eotReceived stays a state every epoch enters (DESIGN §2's explicit EOT states).
          { target: "eotReceived", actions: "recordAllOk" },
        ],
        "sinkIo.endOfResults": [
          { guard: "isForeignFrame", actions: "reportStrayFrame" },
          { guard: "isStaleFrame" },
          { guard: "breaksProtocol", target: "protocolError", actions: "recordViolation" },
          { actions: "markEndOfResults" },
        ],
        "sinkIo.crashed": [
          { guard: "isForeignFrame", actions: "reportStrayFrame" },
          { guard: "isStaleFrame" },
          { guard: "breaksProtocol", target: "protocolError", actions: "recordViolation" },
        ],
      },
      states: {
        writing: {
          on: {
            "sinkIo.sent": [
              { guard: "isForeignFrame", actions: "reportStrayFrame" },
              { guard: "isStaleFrame" },
              { target: "awaitingResults" },
            ],
          },
        },
        awaitingResults: {},
      },
    },
    // Entered with the attempt settled (see above): decides retry / finish / done from it.
    eotReceived: {
      always: [
        // Every message ended ok (or dropped before): nothing to exhaust, nothing to fall back.
        { guard: "isEpochSettled", target: "idle", actions: "completeEpoch" },
        { guard: "canRetry", target: "retrying", actions: "scheduleBackoff" },
        { target: "finishing" },
      ],
    },
    retrying: {
      after: { retryBackoff: { target: "attempt", actions: "startNextAttempt" } },
    },
    protocolError: {
      entry: ["settleAfterViolation", "reportViolation", "scheduleBackoff"],
      always: { guard: not("canRetry"), target: "finishing" },
      after: { retryBackoff: { target: "attempt", actions: "startNextAttempt" } },
    },
    finishing: {
      entry: "exhaustUnsettled",
      always: [{ guard: "hasFallbackQueue", target: "fallingBack" }, { target: "idle", actions: "completeEpoch" }],
    },
    fallingBack: {
      invoke: {
        src: "fallbackWriter",
        input: ({ context }): FallbackWriteInput => {
          const work = requireWork(context);
          return { vertex: context.vertex, partition: context.partition, epoch: work.epoch, items: work.fallbackQueue };
        },
        onDone: { target: "idle", actions: "completeEpochAfterFallback" },
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

