/**
 * Owns partition `p`'s offsets: reads batches, hands them to the batcher, acks an epoch's
 * offsets only when the supervisor commits that epoch.
 *
 *   active                                  (supervisor.commit, readerIo.acked/ackFailed: the commit queue, below)
 *   └─ fetch
 *      reading ──(readerIo.batch: hand over; the grant's `done` one: grant again)──▶ reading
 *        │ error     ├─ done, window full ──▶ awaitingCommit ──(batcher.sealed frees room)──▶ reading
 *        ▼           └─ done, drain / end of stream ──▶ draining
 *      backingOff ──▶ reading            (too many failed reads ──▶ failed)
 *      draining: idle ⇄ acking           (the reads are over; acking while an ack is outstanding)
 *   supervisor.stop ──▶ stopped
 *
 * I/O: one `readerIo` actor invoked for the reader's whole life (reader-io.ts). Entering `reading`
 * grants it a credit (`reader.read`, max = the room left in the window) and it reads on by itself:
 * `reading` takes each `readerIo.batch` in one step and stays, until the one that says `done`
 * (credit used up, end of stream, or paused for a drain) leads on — to `reading` again (a new
 * grant), `awaitingCommit` or `draining`. A drain sends `reader.pause` while a grant runs, and the
 * reader reports `reader.draining` only after that grant's `done`: no read answers after the
 * report. A seal taken while a grant runs extends it (`reader.credit`, the sealed count), so in a
 * steady stream a grant goes on across epochs and ends only on a full window, the end of the input,
 * a failed read or a pause.
 * Acks (issue 12, session 9): the commit queue is context, not a region. Commits queue in order;
 * the queue's head is acked (`reader.ack`) as soon as it is committed and sealed, whichever comes
 * last, in the step of the event that makes it so (a commit, a seal, the previous ack's
 * `readerIo.acked`); an ack is outstanding exactly while the head is sealed. So while the reader
 * reads, a seal, its commit and its ack are one targetless step each. Once the reads are over
 * (`draining`), the reader is in `draining.acking` while an ack is outstanding. A failed ack is
 * sent again after `ackRetryBackoff` (a delayed `reader.ackRetry`); an epoch with nothing to ack
 * completes without I/O, and one that comes up behind an ack completes through `reader.commitReady`,
 * raised by the step that finished the ack before it.
 * Takes: `batcher.sealed`, `supervisor.commit`, `supervisor.drain`, `supervisor.stop`, `readerIo.*`.
 * Hand-over (issue 12): `fromPartitionIo` hands reads of new entries to the batcher itself and
 * answers only the read that ends a grant, with `handedOver` (counted into `unsealed` then); an
 * answer with `entries` (pending pages, a custom `readerIo`) the reader hands over itself.
 * Sends: `reader.batchRead` to its batcher (for answers with entries); `reader.acked`,
 * `reader.draining`, `reader.readFailed`, `reader.failed` to the supervisor.
 * Keeps: an offset is acked only after the supervisor committed its epoch (I1), and acks never
 * wait on a read (an ack goes out in the step that makes it due, whatever the reads are doing; a
 * read's answer never waits on an ack either). The reader holds at most `readBatchSize` messages
 * that are not yet sealed into an epoch, so a partition's read-ahead is bounded by the supervisor's
 * `maxInflightEpochs`.
 * Watermarks (issue #13): a read's watermark goes to the batcher with its batch — alone, in an
 * empty `reader.batchRead`, only when it advanced — and comes back on the sealed epoch, to be
 * acked with its offsets. An epoch without offsets is acked only when its watermark is newer
 * than the last acked one (so the runtime can publish it); otherwise it completes without I/O.
 */
import { and, assertEvent, assign, fromCallback, not, raise, sendParent, sendTo, setup } from "xstate";
import {
  actorIds,
  type BatchReadEvent,
  type CommitEvent,
  type DrainEvent,
  type ReaderAckedEvent,
  type ReaderDrainingEvent,
  type ReaderFailedEvent,
  type ReaderReadFailedEvent,
  type SealedEvent,
  type StopEvent,
} from "./epoch-protocol.js";
import type { PartitionReaderContext, PartitionReaderInput, ReadBatchInput, SealedEpoch } from "./partition-reader.types.js";
import type { ReaderIoEvent, ReaderIoInput, ReaderIoRequest } from "./reader-io.js";
import { isNewerWatermark, laterWatermark } from "./watermark.js";

type ReaderIoBatchEvent = Extract<ReaderIoEvent, { type: "readerIo.batch" }>;
/**
 * The reader's events to itself: the commit queue's head came up with nothing to ack behind an
 * ack that just finished (`reader.commitReady`), and a failed ack's backoff is over (`reader.ackRetry`).
 */
type ReaderSelfEvent = { readonly type: "reader.commitReady" } | { readonly type: "reader.ackRetry" };
type PartitionReaderEvent = SealedEvent | CommitEvent | DrainEvent | StopEvent | ReaderIoEvent | ReaderSelfEvent;

/** The invoked `readerIo` actor's id: requests are sent to it by this name. */
const ioId = "io";

const retryCapMs = 1000;

/** The commit queue's head, once it is sealed as well: its ack is outstanding (or it needs none). */
function nextCommittable(context: PartitionReaderContext): SealedEpoch | undefined {
  const epoch = context.commitQueue[0];
  return epoch === undefined ? undefined : context.sealed.find((entry) => entry.epoch === epoch);
}

/** The sealed epoch a commit names, when nothing is queued before it: it can be acked at once. */
function committableNow(context: PartitionReaderContext, epoch: number): SealedEpoch | undefined {
  return context.commitQueue.length === 0 ? context.sealed.find((entry) => entry.epoch === epoch) : undefined;
}

/** Nothing to ack: no offsets, and no watermark the ack would move forward past `ackedWatermark`. */
function isEmptyCommit(epoch: SealedEpoch, ackedWatermark: number | undefined): boolean {
  return epoch.offsets.length === 0 && !isNewerWatermark(epoch.watermark, ackedWatermark);
}

/** What comes up once the commit queue's head is done: nothing yet, an ack, or an epoch with nothing to ack. */
type NextCommit = "none" | "ack" | "complete";

/**
 * What comes up once the head is done: the next queued commit, if it is sealed — acked, or
 * completed when it needs no ack (judged against the watermark the head's ack leaves). Guards see
 * the context before the step's actions run, so they ask this rather than the context
 * `recordAcked` leaves.
 */
function nextAfterHead(context: PartitionReaderContext, head: SealedEpoch): NextCommit {
  const epoch = context.commitQueue[1];
  if (epoch === undefined) return "none";
  const next = context.sealed.find((entry) => entry.epoch === epoch);
  if (next === undefined) return "none";
  return isEmptyCommit(next, laterWatermark(context.ackedWatermark, head.watermark)) ? "complete" : "ack";
}

/**
 * The head is done: its ack came back (`readerIo.acked` for its epoch; a late answer for anything
 * else changes nothing), or it is sealed with nothing to ack (`reader.commitReady`).
 */
function doneHead(context: PartitionReaderContext, event: PartitionReaderEvent): SealedEpoch | undefined {
  const head = nextCommittable(context);
  if (head === undefined) return undefined;
  if (event.type === "readerIo.acked") return head.epoch === event.epoch ? head : undefined;
  return isEmptyCommit(head, context.ackedWatermark) ? head : undefined;
}

/** `reader.acked` for an epoch whose ack is done (or needed none). */
function ackedEvent(context: PartitionReaderContext, done: SealedEpoch): ReaderAckedEvent {
  const { partition } = context;
  const { epoch, watermark } = done;
  const count = done.offsets.length;
  return watermark === undefined ? { type: "reader.acked", partition, epoch, count } : { type: "reader.acked", partition, epoch, count, watermark };
}

/** The context once `done`'s ack is recorded: one object literal of one shape (no spreads, issue 12). */
function afterAck(context: PartitionReaderContext, done: SealedEpoch, commitQueue: readonly number[]): Partial<PartitionReaderContext> {
  return {
    commitQueue,
    sealed: context.sealed.length === 1 ? [] : context.sealed.filter((entry) => entry !== done),
    acked: context.acked + done.offsets.length,
    lastAckedEpoch: context.lastAckedEpoch === undefined || done.epoch > context.lastAckedEpoch ? done.epoch : context.lastAckedEpoch,
    ackedWatermark: laterWatermark(context.ackedWatermark, done.watermark),
  };
}

/**
 * The epoch whose ack is done, or that needed none: the commit queue's head (after its ack, or
 * when it comes up with nothing to ack) or the one a commit names (acted on in the commit's own
 * step). The transitions that complete it are guarded so that it exists.
 */
function finished(context: PartitionReaderContext, done: SealedEpoch | undefined): SealedEpoch {
  if (done === undefined) throw new Error(`partition reader ${context.vertex}/${context.partition}: no sealed epoch to complete`);
  return done;
}

/** The read's answer carries entries (or an advanced watermark) the reader hands over itself. */
function carriesData(context: PartitionReaderContext, event: ReaderIoBatchEvent): boolean {
  return event.entries.length > 0 || (event.handedOver === undefined && isNewerWatermark(event.watermark, context.watermark));
}

/**
 * Where a read's answer leads: on within the running grant (`readOn`), or, for the answer that ends
 * the grant, to a new grant (`grantAgain`), a full window (`awaitingCommit`) or the drain (`draining`,
 * in its `acking` when an ack is outstanding). Judged on the context as `recordRead` will leave it
 * (guards see the context before the step's actions run).
 */
type AnswerLeadsTo = "readOn" | "grantAgain" | "awaitingCommit" | "draining" | "drainingAcking";

function answerLeadsTo(context: PartitionReaderContext, event: ReaderIoBatchEvent): AnswerLeadsTo {
  if (!endsGrant(event)) return "readOn";
  if (context.drainRequested || event.endOfStream) return nextCommittable(context) === undefined ? "draining" : "drainingAcking";
  return context.unsealed + event.entries.length + (event.handedOver ?? 0) >= context.settings.readBatchSize ? "awaitingCommit" : "grantAgain";
}

/**
 * The transitions of a read's answer, for answers the reader hands over itself (`carrying`, with
 * `handOverRead` first: it reads the context before `recordRead` updates it) or not. Each answer is
 * one step (issue 12). Within a grant the reader stays; the answer that ends it goes where it leads,
 * or grants the room left and reads on. Two lists of named actions rather than one `enqueueActions`:
 * that builds its helpers and an action object per queued action on every step (issue 12, session
 * 8). One guard with params per row rather than `and([…])` rows: an `and` costs its evaluation
 * closure and args on every row it is tried (issue 12, session 9).
 */
function answerTransitions(carrying: boolean) {
  const actions = carrying ? (["handOverRead", "recordRead"] as const) : (["recordRead"] as const);
  const to = (leadsTo: AnswerLeadsTo) => ({ type: "answerLeadsTo", params: { carrying, leadsTo } }) as const;
  return [
    { guard: to("readOn"), actions },
    // Reading on: the next grant is sent in the step's actions, after `recordRead` (it sees the room
    // that leaves); `reading` is not re-entered (a re-entering transition costs XState a search for
    // the transition's domain, ~10 % of the step, for an exit and an entry that do nothing else).
    { guard: to("grantAgain"), actions: [...actions, "requestRead"] },
    { guard: to("awaitingCommit"), target: "awaitingCommit", actions },
    { guard: to("draining"), target: "draining", actions },
    // The reads are over with an ack outstanding: the reader drains in `acking`.
    { guard: to("drainingAcking"), target: "draining.acking", actions },
  ] as const;
}

type SealGuard = "sealsEntries" | "sealFreesRoom";
/** The named actions the built transition lists below use (names, so XState's types check them). */
type ListedAction = "recordSealed" | "extendGrant" | "raiseCommitReady" | "reportAcked" | "recordAcked" | "requestAck";
interface SealTransition {
  readonly guard?: SealGuard;
  readonly target?: string;
  readonly actions: readonly ListedAction[];
}

/**
 * A state's `batcher.sealed` transitions, each with a twin for the seal that makes the commit
 * queue's head ready (its commit came first): that one also raises `reader.commitReady`, whose
 * step acks it (or completes it). Rare, so it costs a microstep; the twins come first, their guard
 * fails at once when nothing is queued.
 */
function sealTransitions(transitions: readonly SealTransition[]) {
  const ready = transitions.map((t) => ({
    guard: t.guard === undefined ? ("sealReadiesCommit" as const) : and(["sealReadiesCommit", t.guard]),
    ...(t.target === undefined ? {} : { target: t.target }),
    actions: [...t.actions, "raiseCommitReady"] as readonly ListedAction[],
  }));
  return [...ready, ...transitions];
}

/**
 * What finishing the commit queue's head does (its ack came back, or it needed none): reported and
 * recorded in one step, and what comes up next decided in the same step — the next ack sent, or an
 * epoch with nothing to ack completed through `reader.commitReady`. `last` is where the reader goes
 * when nothing comes up (in `draining.acking`: its `idle`). One guard with params, not `and`s: the
 * common case (nothing comes up) is decided by the first guard.
 */
function headDone(last?: string) {
  const done: readonly ListedAction[] = ["reportAcked", "recordAcked"];
  const when = (next: NextCommit) => ({ type: "headDoneThen", params: { next } }) as const;
  return [
    last === undefined ? { guard: when("none"), actions: done } : { guard: when("none"), target: last, actions: done },
    { guard: when("complete"), actions: [...done, "raiseCommitReady"] as readonly ListedAction[] },
    { guard: when("ack"), actions: [...done, "requestAck"] as readonly ListedAction[] },
  ];
}

/**
 * A commit: acked at once when it names a sealed epoch with something to ack and nothing queued
 * before it; ignored when the reader already queued or acked it (acking twice, or a queue head
 * with no sealed epoch behind it, would wedge the queue); completed in its own step when it names
 * a sealed epoch with nothing to ack and nothing queued before it; otherwise queued.
 */
const commitTransitions = [
  // First: the common case, and never a duplicate (nothing queued, the epoch sealed, so not acked).
  { guard: "commitsAckNow", actions: ["enqueueCommit", "requestAck"] },
  { guard: "isDuplicateCommit" },
  { guard: "commitsEmptyEpochNow", actions: ["reportCommittedNow", "recordCommittedNow"] },
  { actions: "enqueueCommit" },
] as const;

function isFatal(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retriable?: unknown }).retriable === false;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the reader's context becomes once a read's answer is recorded. The answer's transition
 * picks its target from this (guards see the context before the step's actions run) and
 * `recordRead` assigns it, so both agree.
 */
function afterRead(
  context: PartitionReaderContext,
  event: ReaderIoBatchEvent,
): Pick<PartitionReaderContext, "readFailures" | "pending" | "endOfStream" | "unsealed" | "watermark"> {
  const { entries } = event;
  // Pending entries come first; `readerIo` says when a pending page came back short (they are all
  // re-read) and reads on with new ones, so the next grant starts where it left off.
  const last = entries[entries.length - 1];
  return {
    readFailures: 0,
    pending: context.pending === null || event.pendingDone === true ? null : last === undefined ? context.pending : { after: last.offset },
    endOfStream: event.endOfStream,
    unsealed: context.unsealed + entries.length + (event.handedOver ?? 0),
    watermark: laterWatermark(context.watermark, event.watermark),
  };
}

/**
 * The answer ends the running grant: `readerIo` reads nothing more until the next `reader.read`.
 * An end of stream ends it whatever the answer says.
 */
function endsGrant(event: ReaderIoBatchEvent): boolean {
  return event.done === true || event.endOfStream;
}

/** A failed read's error, and what its grant handed to the batcher before it failed. */
const readFailure = ({ event }: { event: Extract<ReaderIoEvent, { type: "readerIo.readFailed" }> }) =>
  event.handedOver === undefined ? { error: event.error } : { error: event.error, handedOver: event.handedOver };

export const partitionReaderMachine = setup({
  types: {
    context: {} as PartitionReaderContext,
    input: {} as PartitionReaderInput,
    events: {} as PartitionReaderEvent,
  },
  actors: {
    /**
     * The partition's reads and acks, one long-lived actor (see reader-io.ts). Supplied by the
     * runtime, e.g. `fromPartitionIo({ read, ack })`.
     */
    readerIo: fromCallback<ReaderIoRequest, ReaderIoInput>(() => {
      throw new Error("readerIo is not provided: supply it with partitionReaderMachine.provide({ actors: { readerIo: fromPartitionIo({ read, ack }) } })");
    }),
  },
  delays: {
    readRetryBackoff: ({ context }) => Math.min(retryCapMs, 10 * 2 ** Math.max(0, context.readFailures - 1)),
    ackRetryBackoff: () => 50,
  },
  guards: {
    shouldDrain: ({ context }) => context.drainRequested || context.endOfStream,
    // The answer carries data the reader hands over itself (or not), and leads where `leadsTo` says.
    answerLeadsTo: ({ context, event }, { carrying, leadsTo }: { carrying: boolean; leadsTo: AnswerLeadsTo }) => {
      assertEvent(event, "readerIo.batch");
      return carriesData(context, event) === carrying && answerLeadsTo(context, event) === leadsTo;
    },
    sealsEntries: ({ event }) => {
      assertEvent(event, "batcher.sealed");
      return event.offsets.length > 0;
    },
    // The seal leaves the window with room (the context as `recordSealed` will leave it).
    sealFreesRoom: ({ context, event }) => {
      assertEvent(event, "batcher.sealed");
      return context.unsealed - event.offsets.length < context.settings.readBatchSize;
    },
    // The seal of the epoch at the commit queue's head: it was committed before it was sealed.
    sealReadiesCommit: ({ context, event }) => {
      assertEvent(event, "batcher.sealed");
      return context.commitQueue[0] === event.epoch && nextCommittable(context) === undefined;
    },
    hasTooManyReadFailures: ({ context, event }) =>
      (event.type === "readerIo.readFailed" && (event.handedOver ?? 0) > 0 ? 0 : context.readFailures) + 1 >= context.settings.maxReadFailures,
    // An error that says it is not retriable (e.g. the buffer lost its data) fails the reader at
    // once; anything else is retried.
    isFatalError: (_, { error }: { error: unknown }) => isFatal(error),
    // Queued already, or acked: an epoch at or below the last acked one that is not sealed now was
    // acked (the batcher seals epochs in order, so it will not be sealed later either).
    isDuplicateCommit: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      const { epoch } = event;
      if (context.commitQueue.includes(epoch)) return true;
      return context.lastAckedEpoch !== undefined && epoch <= context.lastAckedEpoch && !context.sealed.some((entry) => entry.epoch === epoch);
    },
    // The head is sealed and needs an ack (`reader.commitReady` after its seal came last).
    headNeedsAck: ({ context }) => {
      const head = nextCommittable(context);
      return head !== undefined && !isEmptyCommit(head, context.ackedWatermark);
    },
    // A commit of a sealed epoch with nothing queued before it is acted on in its own step (issue
    // 12); the guards judge the context `enqueueCommit` would leave.
    commitsEmptyEpochNow: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      const epoch = committableNow(context, event.epoch);
      return epoch !== undefined && isEmptyCommit(epoch, context.ackedWatermark);
    },
    commitsAckNow: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      const epoch = committableNow(context, event.epoch);
      return epoch !== undefined && !isEmptyCommit(epoch, context.ackedWatermark);
    },
    // An ack is outstanding (or the head completes in this macrostep): the head is sealed.
    hasCommit: ({ context }) => nextCommittable(context) !== undefined,
    // The head is done (see `doneHead`), and `next` comes up after it.
    headDoneThen: ({ context, event }, { next }: { next: NextCommit }) => {
      const head = doneHead(context, event);
      return head !== undefined && nextAfterHead(context, head) === next;
    },
  },
  actions: {
    // A grant: the room left in the window, read by `readerIo` on its own (reader-io.ts).
    // The grant is not kept in the context (an assign per grant copies it): `readerIo` counts it
    // down, and its `done` answer says when it is used up.
    requestRead: sendTo(ioId, ({ context }): ReaderIoRequest => {
      const input: ReadBatchInput = {
        vertex: context.vertex,
        partition: context.partition,
        max: context.settings.readBatchSize - context.unsealed,
        timeoutMs: context.pending !== null ? 0 : context.settings.readTimeoutMs,
        fromPending: context.pending !== null,
        ...(context.pending !== null && context.pending.after !== null ? { after: context.pending.after } : {}),
      };
      return { type: "reader.read", input };
    }),
    // A seal in `reading`: the room it frees goes to the running grant (ignored by `readerIo` when
    // the grant has just ended: the reader then counts the seal into the next one).
    extendGrant: sendTo(ioId, ({ event }): ReaderIoRequest => {
      assertEvent(event, "batcher.sealed");
      return { type: "reader.credit", entries: event.offsets.length };
    }),
    // A drain in `reading` (a grant runs there, always): the read in flight ends it (its answer says `done`).
    pauseReads: sendTo(ioId, { type: "reader.pause" } satisfies ReaderIoRequest),
    // The head's ack; after the step's record (it reads the context the step leaves).
    requestAck: sendTo(ioId, ({ context }): ReaderIoRequest => {
      const { epoch, offsets, watermark } = finished(context, nextCommittable(context));
      const { vertex, partition } = context;
      return { type: "reader.ack", input: watermark === undefined ? { vertex, partition, epoch, offsets } : { vertex, partition, epoch, offsets, watermark } };
    }),
    // A failed ack is owed, not dropped: sent again after the backoff (the epoch is committed
    // downstream). Commits that come meanwhile queue behind it.
    retryAckLater: raise({ type: "reader.ackRetry" }, { delay: "ackRetryBackoff" }),
    // The head came up (sealed after its commit, or behind an ack just finished): its own step
    // acks or completes it.
    raiseCommitReady: raise({ type: "reader.commitReady" }),
    // An answer that carries entries (pending pages, no batcher in the system, a custom `readerIo`):
    // the reader hands them over. A watermark goes along only when it advanced; an advance alone
    // is worth an event (an idle partition's watermark must reach its epochs). An answer with
    // `handedOver` comes after `readerIo` handed its reads (and their watermark) over itself.
    handOverRead: sendTo(
      ({ context, system }) => system.get(actorIds.batcher(context.vertex, context.partition)),
      ({ context, event }): BatchReadEvent => {
        assertEvent(event, "readerIo.batch");
        const { partition } = context;
        return isNewerWatermark(event.watermark, context.watermark)
          ? { type: "reader.batchRead", partition, entries: event.entries, watermark: event.watermark }
          : { type: "reader.batchRead", partition, entries: event.entries };
      },
    ),
    // Records the read's answer with one context update (each assign copies the context).
    recordRead: assign(({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return afterRead(context, event);
    }),
    // A failed read ends its grant as well; what the grant handed over counts into the window.
    // Reads that handed something over succeeded: the failures before them were not consecutive.
    recordReadError: assign(({ context }, { error, handedOver = 0 }: { error: unknown; handedOver?: number }) => ({
      readFailures: (handedOver > 0 ? 0 : context.readFailures) + 1,
      lastError: errorText(error),
      unsealed: context.unsealed + handedOver,
    })),
    reportReadFailure: sendParent(({ context }): ReaderReadFailedEvent => ({
      type: "reader.readFailed",
      partition: context.partition,
      error: context.lastError ?? "unknown",
      consecutiveFailures: context.readFailures,
    })),
    reportDraining: sendParent(({ context }): ReaderDrainingEvent => ({
      type: "reader.draining",
      partition: context.partition,
      reason: context.drainRequested ? "drain" : "endOfStream",
      unsealed: context.unsealed,
      ...(isNewerWatermark(context.watermark, context.sealedWatermark) ? { unsealedWatermark: true as const } : {}),
    })),
    reportFailed: sendParent(({ context }): ReaderFailedEvent => ({
      type: "reader.failed",
      partition: context.partition,
      error: context.lastError ?? "unknown",
    })),
    recordSealed: assign(({ context, event }) => {
      assertEvent(event, "batcher.sealed");
      const { epoch, offsets, watermark } = event;
      const entry: SealedEpoch = watermark === undefined ? { epoch, offsets } : { epoch, offsets, watermark };
      return {
        // Most seals find nothing waiting (the previous epoch is acked by now): no copy then.
        sealed: context.sealed.length === 0 ? [entry] : [...context.sealed, entry],
        // Not clamped at 0: during a grant whose reads `readerIo` hands to the batcher itself, an
        // epoch may be sealed before the grant's answer counts them in (issue 12); the sum is exact.
        unsealed: context.unsealed - offsets.length,
        sealedWatermark: laterWatermark(context.sealedWatermark, watermark),
      };
    }),
    enqueueCommit: assign({
      commitQueue: ({ context, event }) => {
        assertEvent(event, "supervisor.commit");
        return context.commitQueue.length === 0 ? [event.epoch] : [...context.commitQueue, event.epoch];
      },
    }),
    requestDrain: assign({ drainRequested: true }),
    // The head's ack is done (or it needed none): reported, then recorded (the report is built from
    // the context before the record).
    reportAcked: sendParent(({ context }) => ackedEvent(context, finished(context, nextCommittable(context)))),
    recordAcked: assign(({ context }) =>
      afterAck(context, finished(context, nextCommittable(context)), context.commitQueue.length === 1 ? [] : context.commitQueue.slice(1)),
    ),
    // A commit of an epoch with nothing to ack, nothing queued before it: done in its own step.
    reportCommittedNow: sendParent(({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      return ackedEvent(context, finished(context, committableNow(context, event.epoch)));
    }),
    recordCommittedNow: assign(({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      return afterAck(context, finished(context, committableNow(context, event.epoch)), context.commitQueue);
    }),
  },
}).createMachine({
  id: "partitionReader",
  context: ({ input }) => ({
    vertex: input.vertex,
    partition: input.partition,
    settings: { readBatchSize: input.readBatchSize, readTimeoutMs: input.readTimeoutMs, maxReadFailures: input.maxReadFailures ?? 20 },
    pending: input.startWithPending === true ? { after: null } : null,
    unsealed: 0,
    sealed: [],
    commitQueue: [],
    drainRequested: false,
    endOfStream: false,
    readFailures: 0,
    lastError: null,
    acked: 0,
    lastAckedEpoch: undefined,
    watermark: undefined,
    sealedWatermark: undefined,
    ackedWatermark: undefined,
  }),
  initial: "active",
  output: ({ context }) => ({ partition: context.partition, acked: context.acked, error: context.lastError }),
  states: {
    active: {
      // One I/O actor for the reader's whole life: reads and acks are requests to it (reader-io.ts).
      invoke: {
        id: ioId,
        src: "readerIo",
        input: ({ context }): ReaderIoInput => ({ vertex: context.vertex, partition: context.partition, readTimeoutMs: context.settings.readTimeoutMs }),
        onError: {
          target: "failed",
          actions: { type: "recordReadError", params: ({ event }) => ({ error: event.error }) },
        },
      },
      // The commit queue, whatever the reads are doing (issue 12, session 9: it was a parallel
      // region, and its `idle` ⇄ `acking` transitions and eventless check cost every step): all
      // targetless, so a commit and its ack are one step each. `draining`'s states take some of
      // these events first, to move between `idle` and `acking`.
      on: {
        "supervisor.stop": "stopped",
        "supervisor.commit": [...commitTransitions],
        "readerIo.acked": headDone(),
        "reader.commitReady": [...headDone(), { guard: "headNeedsAck", actions: "requestAck" }],
        "readerIo.ackFailed": [
          {
            guard: { type: "isFatalError", params: ({ event }) => ({ error: event.error }) },
            target: "#partitionReader.failed",
            actions: { type: "recordReadError", params: ({ event }) => ({ error: event.error }) },
          },
          { actions: "retryAckLater" },
        ],
        "reader.ackRetry": { guard: "hasCommit", actions: "requestAck" },
      },
      initial: "fetch",
      states: {
        fetch: {
          initial: "reading",
          states: {
            reading: {
              entry: "requestRead",
              on: {
                // A grant runs here, always: it is paused, and its last answer leads to `draining`.
                "supervisor.drain": { actions: ["requestDrain", "pauseReads"] },
                // A seal frees room while the grant runs: the grant's credit grows by it, and the
                // grant goes on rather than ending and being granted again (reader-io.ts).
                // Explicit rows, not `sealTransitions`: this is the hot one (a seal with no entries that
                // readies a commit sends a credit of 0, which changes nothing).
                "batcher.sealed": [
                  { guard: "sealReadiesCommit", actions: ["recordSealed", "extendGrant", "raiseCommitReady"] },
                  { guard: "sealsEntries", actions: ["recordSealed", "extendGrant"] },
                  { actions: "recordSealed" },
                ],
                // Each answer is one step (see `answerTransitions`).
                "readerIo.batch": [...answerTransitions(false), ...answerTransitions(true)],
                "readerIo.readFailed": [
                  {
                    guard: { type: "isFatalError", params: ({ event }) => ({ error: event.error }) },
                    target: "#partitionReader.failed",
                    actions: { type: "recordReadError", params: readFailure },
                  },
                  {
                    guard: "hasTooManyReadFailures",
                    target: "#partitionReader.failed",
                    actions: { type: "recordReadError", params: readFailure },
                  },
                  {
                    target: "backingOff",
                    actions: [{ type: "recordReadError", params: readFailure }, "reportReadFailure"],
                  },
                ],
              },
            },
            // The window is full: the open epoch holds readBatchSize of this partition's messages
            // and can only close once a commit frees an in-flight slot. Entered only without room
            // and without a drain (the answer's guards see to it), so the events that change either
            // decide in their own step: no eventless check runs on every event here (issue 12).
            // Commits and acks go on meanwhile (`active` takes them).
            awaitingCommit: {
              on: {
                "supervisor.drain": [
                  { guard: "hasCommit", target: "draining.acking", actions: "requestDrain" },
                  { target: "draining", actions: "requestDrain" },
                ],
                "batcher.sealed": sealTransitions([{ guard: "sealFreesRoom", target: "reading", actions: ["recordSealed"] }, { actions: ["recordSealed"] }]),
              },
            },
            backingOff: {
              on: { "supervisor.drain": { actions: "requestDrain" }, "batcher.sealed": sealTransitions([{ actions: ["recordSealed"] }]) },
              always: [
                { guard: and(["shouldDrain", "hasCommit"]), target: "draining.acking" },
                { guard: "shouldDrain", target: "draining" },
              ],
              after: { readRetryBackoff: "reading" },
            },
            // The reads are over; in-flight epochs still seal, commit and ack. `acking` while an ack
            // is outstanding (DESIGN §2's state: while the reader reads, the ack in flight is
            // context), `idle` otherwise; the events that change that decide in their own step.
            draining: {
              entry: "reportDraining",
              on: { "supervisor.drain": { actions: "requestDrain" }, "batcher.sealed": sealTransitions([{ actions: ["recordSealed"] }]) },
              initial: "idle",
              states: {
                idle: {
                  on: {
                    "supervisor.commit": { guard: "commitsAckNow", target: "acking", actions: ["enqueueCommit", "requestAck"] },
                    "reader.commitReady": [
                      { guard: { type: "headDoneThen", params: { next: "ack" } }, target: "acking", actions: ["reportAcked", "recordAcked", "requestAck"] },
                      { guard: "headNeedsAck", target: "acking", actions: "requestAck" },
                    ],
                  },
                },
                acking: {
                  on: {
                    "readerIo.acked": headDone("idle"),
                    "reader.commitReady": headDone("idle"),
                  },
                },
              },
            },
          },
        },
      },
    },
    stopped: { type: "final" },
    failed: { type: "final", entry: "reportFailed" },
  },
});
