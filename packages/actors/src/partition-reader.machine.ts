/**
 * Owns partition `p`'s offsets: reads batches, hands them to the batcher, acks an epoch's
 * offsets only when the supervisor commits that epoch.
 *
 *   active (parallel)
 *   ├─ fetch:  reading ──(readerIo.batch: hand over; the grant's `done` one: grant again)──▶ reading
 *   │            │ error        ├─ done, window full ──▶ awaitingCommit ──(batcher.sealed frees room)──▶ reading
 *   │            ▼              └─ done, drain / end of stream ──▶ draining
 *   │          backingOff ──▶ reading          (too many failed reads ──▶ failed)
 *   └─ commit: idle ──(supervisor.commit e, sealed e known)──▶ acking ──▶ idle
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
 * a failed read or a pause. `acking` sends `reader.ack` and waits for `readerIo.acked`/`readerIo.ackFailed`.
 * Takes: `batcher.sealed`, `supervisor.commit`, `supervisor.drain`, `supervisor.stop`, `readerIo.*`.
 * Hand-over (issue 12): `fromPartitionIo` hands reads of new entries to the batcher itself and
 * answers only the read that ends a grant, with `handedOver` (counted into `unsealed` then); an
 * answer with `entries` (pending pages, a custom `readerIo`) the reader hands over itself.
 * Sends: `reader.batchRead` to its batcher (for answers with entries); `reader.acked`,
 * `reader.draining`, `reader.readFailed`, `reader.failed` to the supervisor.
 * Keeps: an offset is acked only after the supervisor committed its epoch (I1), and acks never
 * wait on a read (the commit region runs beside the fetch region). The reader holds at most
 * `readBatchSize` messages that are not yet sealed into an epoch, so a partition's read-ahead is
 * bounded by the supervisor's `maxInflightEpochs`.
 * Watermarks (issue #13): a read's watermark goes to the batcher with its batch — alone, in an
 * empty `reader.batchRead`, only when it advanced — and comes back on the sealed epoch, to be
 * acked with its offsets. An epoch without offsets is acked only when its watermark is newer
 * than the last acked one (so the runtime can publish it); otherwise it completes without I/O.
 */
import { and, assertEvent, assign, fromCallback, sendParent, sendTo, setup } from "xstate";
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
type PartitionReaderEvent = SealedEvent | CommitEvent | DrainEvent | StopEvent | ReaderIoEvent;

/** The invoked `readerIo` actor's id: requests are sent to it by this name. */
const ioId = "io";

const retryCapMs = 1000;
/** Acked epochs remembered to ignore a repeated commit (epochs in flight are far fewer). */
const recentAckedEpochs = 64;

function nextCommittable(context: PartitionReaderContext): SealedEpoch | undefined {
  const epoch = context.commitQueue[0];
  return epoch === undefined ? undefined : context.sealed.find((entry) => entry.epoch === epoch);
}

/** The sealed epoch a commit names, when nothing is queued before it: it can be acked at once. */
function committableNow(context: PartitionReaderContext, epoch: number): SealedEpoch | undefined {
  return context.commitQueue.length === 0 ? context.sealed.find((entry) => entry.epoch === epoch) : undefined;
}

/** Nothing to ack: no offsets, and no watermark the ack would move forward. */
function isEmptyCommit(context: PartitionReaderContext, epoch: SealedEpoch): boolean {
  return epoch.offsets.length === 0 && !isNewerWatermark(epoch.watermark, context.ackedWatermark);
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
    sealed: context.sealed.filter((entry) => entry.epoch !== done.epoch),
    acked: context.acked + done.offsets.length,
    ackedEpochs: [...context.ackedEpochs.slice(-(recentAckedEpochs - 1)), done.epoch],
    ackedWatermark: laterWatermark(context.ackedWatermark, done.watermark),
  };
}

/**
 * The epoch whose ack is done, or that needed none: the commit queue's head (after `acking`, or
 * `idle`'s eventless check) or the one a commit names (acted on in the commit's own step). The
 * transitions that complete it are guarded so that it exists.
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
 * The transitions of a read's answer, for answers the reader hands over itself (`carrying`, with
 * `handOverRead` first: it reads the context before `recordRead` updates it) or not. Each answer is
 * one step (issue 12), the guards judging the context as `recordRead` leaves it. Within a grant the
 * reader stays; the answer that ends it goes where it leads, or grants the room left and reads on. Two lists of named actions rather than one `enqueueActions`:
 * that builds its helpers and an action object per queued action on every step (issue 12, session 8).
 */
function answerTransitions(carrying: boolean) {
  const kind = carrying ? "carriesData" : "carriesNoData";
  const actions = carrying ? (["handOverRead", "recordRead"] as const) : (["recordRead"] as const);
  return [
    { guard: and([kind, "drainsAfterGrant"]), target: "draining", actions },
    { guard: and([kind, "fillsWindowWithGrant"]), target: "awaitingCommit", actions },
    // Reading on: the next grant is sent in the step's actions, after `recordRead` (it sees the room
    // that leaves); `reading` is not re-entered (a re-entering transition costs XState a search for
    // the transition's domain, ~10 % of the step, for an exit and an entry that do nothing else).
    { guard: and([kind, "endsGrant"]), actions: [...actions, "requestRead"] },
    { guard: kind, actions },
  ] as const;
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

function isFatal(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retriable?: unknown }).retriable === false;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A commit while another epoch's ack runs: queued. The commit region's states take
 * `supervisor.commit` themselves (none above them does), so one transition handles it. A commit
 * the reader already queued or acked is ignored: acking twice, or a queue head with no sealed
 * epoch behind it, would wedge the commit region.
 */
/** A failed read's error, and what its grant handed to the batcher before it failed. */
const readFailure = ({ event }: { event: Extract<ReaderIoEvent, { type: "readerIo.readFailed" }> }) =>
  event.handedOver === undefined ? { error: event.error } : { error: event.error, handedOver: event.handedOver };

const commitLater = [{ guard: "isDuplicateCommit" }, { actions: "enqueueCommit" }] as const;

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
    // Guards on the answer that ends a grant; the others are taken in `reading` and read on.
    drainsAfterGrant: ({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return endsGrant(event) && (context.drainRequested || event.endOfStream);
    },
    fillsWindowWithGrant: ({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return endsGrant(event) && context.unsealed + event.entries.length + (event.handedOver ?? 0) >= context.settings.readBatchSize;
    },
    endsGrant: ({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return endsGrant(event);
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
    hasTooManyReadFailures: ({ context, event }) =>
      (event.type === "readerIo.readFailed" && (event.handedOver ?? 0) > 0 ? 0 : context.readFailures) + 1 >= context.settings.maxReadFailures,
    // An error that says it is not retriable (e.g. the buffer lost its data) fails the reader at
    // once; anything else is retried.
    isFatalError: (_, { error }: { error: unknown }) => isFatal(error),
    isDuplicateCommit: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      return context.commitQueue.includes(event.epoch) || context.ackedEpochs.includes(event.epoch);
    },
    // Nothing to ack: no offsets, and no watermark the ack would move forward.
    hasEmptyCommit: ({ context }) => {
      const next = nextCommittable(context);
      return next !== undefined && isEmptyCommit(context, next);
    },
    // A commit of a sealed epoch with nothing queued before it is acted on in its own step, not in
    // an eventless one after it (issue 12); the guards judge the context `enqueueCommit` would leave.
    commitsEmptyEpochNow: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      const epoch = committableNow(context, event.epoch);
      return epoch !== undefined && isEmptyCommit(context, epoch);
    },
    commitsEpochNow: ({ context, event }) => {
      assertEvent(event, "supervisor.commit");
      return committableNow(context, event.epoch) !== undefined;
    },
    hasCommit: ({ context }) => nextCommittable(context) !== undefined,
    carriesData: ({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return carriesData(context, event);
    },
    carriesNoData: ({ context, event }) => {
      assertEvent(event, "readerIo.batch");
      return !carriesData(context, event);
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
    requestAck: sendTo(ioId, ({ context }): ReaderIoRequest => {
      const { epoch, offsets, watermark } = nextCommittable(context)!;
      const { vertex, partition } = context;
      return { type: "reader.ack", input: watermark === undefined ? { vertex, partition, epoch, offsets } : { vertex, partition, epoch, offsets, watermark } };
    }),
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
      return {
        sealed: [...context.sealed, watermark === undefined ? { epoch, offsets } : { epoch, offsets, watermark }],
        // Not clamped at 0: during a grant whose reads `readerIo` hands to the batcher itself, an
        // epoch may be sealed before the grant's answer counts them in (issue 12); the sum is exact.
        unsealed: context.unsealed - offsets.length,
        sealedWatermark: laterWatermark(context.sealedWatermark, watermark),
      };
    }),
    enqueueCommit: assign({
      commitQueue: ({ context, event }) => {
        assertEvent(event, "supervisor.commit");
        return [...context.commitQueue, event.epoch];
      },
    }),
    requestDrain: assign({ drainRequested: true }),
    // An epoch's ack is done (or it needed none): reported, then recorded (the report is built from
    // the context before the record). An `acking` ack or `idle`'s eventless check completes the
    // commit queue's head; a commit acted on in its own step completes the epoch it names.
    reportAcked: sendParent(({ context }) => ackedEvent(context, finished(context, nextCommittable(context)))),
    recordAcked: assign(({ context }) => afterAck(context, finished(context, nextCommittable(context)), context.commitQueue.slice(1))),
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
    ackedEpochs: [],
    watermark: undefined,
    sealedWatermark: undefined,
    ackedWatermark: undefined,
  }),
  initial: "active",
  output: ({ context }) => ({ partition: context.partition, acked: context.acked, error: context.lastError }),
  states: {
    active: {
      type: "parallel",
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
      // `batcher.sealed` and `supervisor.drain` are taken by the fetch region's states, and
      // `supervisor.commit` by the commit region's: in a parallel state a handler here as well
      // would be selected a second time through the other region (XState picks one transition per
      // region), running its actions twice.
      on: {
        "supervisor.stop": "stopped",
      },
      states: {
        fetch: {
          initial: "reading",
          states: {
            reading: {
              entry: "requestRead",
              on: {
                // The fetch region's states take the drain themselves (the commit region's do not),
                // so one transition handles it; here a grant runs, and it is paused.
                "supervisor.drain": { actions: ["requestDrain", "pauseReads"] },
                // A seal frees room while the grant runs: the grant's credit grows by it, and the
                // grant goes on rather than ending and being granted again (reader-io.ts).
                "batcher.sealed": [{ guard: "sealsEntries", actions: ["recordSealed", "extendGrant"] }, { actions: "recordSealed" }],
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
            awaitingCommit: {
              on: {
                "supervisor.drain": { target: "draining", actions: "requestDrain" },
                "batcher.sealed": [{ guard: "sealFreesRoom", target: "reading", actions: "recordSealed" }, { actions: "recordSealed" }],
              },
            },
            backingOff: {
              on: { "supervisor.drain": { actions: "requestDrain" }, "batcher.sealed": { actions: "recordSealed" } },
              always: { guard: "shouldDrain", target: "draining" },
              after: { readRetryBackoff: "reading" },
            },
            draining: {
              entry: "reportDraining",
              on: { "supervisor.drain": { actions: "requestDrain" }, "batcher.sealed": { actions: "recordSealed" } },
            },
          },
        },
        commit: {
          initial: "idle",
          states: {
            // The eventless check is for commits that wait on something else: an epoch sealed after
            // its commit came, or the next queued one after an ack.
            idle: {
              always: [
                { guard: "hasEmptyCommit", actions: ["reportAcked", "recordAcked"] },
                { guard: "hasCommit", target: "acking" },
              ],
              on: {
                "supervisor.commit": [
                  { guard: "isDuplicateCommit" },
                  { guard: "commitsEmptyEpochNow", actions: ["reportCommittedNow", "recordCommittedNow"] },
                  { guard: "commitsEpochNow", target: "acking", actions: "enqueueCommit" },
                  { actions: "enqueueCommit" },
                ],
              },
            },
            acking: {
              entry: "requestAck",
              on: {
                "supervisor.commit": commitLater,
                "readerIo.acked": { target: "idle", actions: ["reportAcked", "recordAcked"] },
                "readerIo.ackFailed": [
                  {
                    guard: { type: "isFatalError", params: ({ event }) => ({ error: event.error }) },
                    target: "#partitionReader.failed",
                    actions: { type: "recordReadError", params: ({ event }) => ({ error: event.error }) },
                  },
                  { target: "ackBackoff" },
                ],
              },
            },
            // A failed ack is retried: the epoch is committed downstream, only the ack is owed.
            ackBackoff: { after: { ackRetryBackoff: "acking" }, on: { "supervisor.commit": commitLater } },
          },
        },
      },
    },
    stopped: { type: "final" },
    failed: { type: "final", entry: "reportFailed" },
  },
});
