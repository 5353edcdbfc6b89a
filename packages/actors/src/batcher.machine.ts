/**
 * Holds what partition `p`'s reader hands over while an epoch is open, and closes the epoch
 * when the supervisor says so.
 *
 *   collecting ──supervisor.closeEpoch(e)──▶ flushing ──reader.batchRead──▶ collecting
 *        │ reader.batchRead: append            │ supervisor.closeEpoch (nothing collected)
 *        │   first data → batcher.filling      ▼
 *        │   readBatchSize reached → batcher.full      eotSent ──reader.batchRead──▶ collecting
 *        │   (first data that fills it at once           │ supervisor.closeEpoch: stays
 *        │    → batcher.full alone)
 *   supervisor.stop ──▶ stopped
 *
 * A close is one step wherever it comes: it sends EOT(p,e,count,messages) to the sink session and
 * SEALED(p,e,offsets) to the reader, empties the open epoch, and lands in `flushing` when the epoch
 * collected something (the sink session now writes what was flushed) or in `eotSent` when its EOT
 * went out alone (count 0). The batcher rests there until the next hand-over (issue 12: no eventless
 * step per epoch; session 9: the close was `flushing` then an eventless step into `eotSent`).
 *
 * Keeps: an EOT is sent for every closed epoch — at once, with `count = 0`, when the partition
 * read nothing — so the join never waits on a partition with nothing to say (I3). The EOT's
 * count is exactly the number of messages it carries for `(p, e)`: the epoch's data rides on the EOT
 * as one batch (issue 12), so the batcher sends no DATA frame (the sink session still takes them). Watermarks (issue #13):
 * the latest one handed over is kept across epochs and rides on every EOT and SEALED, so an idle
 * partition's count-0 EOT carries it too; a watermark newer than the last sealed one is news like
 * data (`batcher.filling`), so an epoch closes to carry it. Without watermarks nothing changes.
 */
import { assertEvent, assign, sendParent, sendTo, setup } from "xstate";
import {
  actorIds,
  type BatcherFillingEvent,
  type BatcherFullEvent,
  type BatchReadEvent,
  type CloseEpochEvent,
  type EotFrame,
  type SealedEvent,
  type StopEvent,
} from "./epoch-protocol.js";
import type { Message } from "./message.js";
import type { BatcherContext, BatcherInput } from "./batcher.types.js";
import { isNewerWatermark } from "./watermark.js";

type BatcherEvent = BatchReadEvent | CloseEpochEvent | StopEvent;

/** The open epoch has something to say: data, or a watermark newer than the last sealed one. */
function hasNews(context: BatcherContext): boolean {
  return context.openCount > 0 || isNewerWatermark(context.watermark, context.sealedWatermark);
}

/** What recording a hand-over changes in the context. */
function appended(context: BatcherContext, event: BatchReadEvent, fullReported: boolean): Partial<BatcherContext> {
  // An older watermark than the one kept does not lower it. One object literal of one shape, no
  // spreads (they were most of a hand-over's own time, issue 12).
  const watermark = isNewerWatermark(event.watermark, context.watermark) ? event.watermark : context.watermark;
  const { entries } = event;
  return {
    open: entries.length === 0 ? context.open : [...context.open, entries],
    openCount: context.openCount + entries.length,
    fullReported,
    watermark,
  };
}

/**
 * The open epoch's messages and offsets, in order, each in one array allocated at its final size
 * (the hand-overs are kept as they came and joined once, at the close). Two plain loops rather than
 * one taking a field getter: a getter per entry was a call V8 could not inline (two callers).
 */
function messagesOf(context: BatcherContext): Message[] {
  const out: Message[] = new Array<Message>(context.openCount);
  let at = 0;
  for (const entries of context.open) for (let i = 0; i < entries.length; i += 1) out[at++] = entries[i]!.message;
  return out;
}

function offsetsOf(context: BatcherContext): string[] {
  const out: string[] = new Array<string>(context.openCount);
  let at = 0;
  for (const entries of context.open) for (let i = 0; i < entries.length; i += 1) out[at++] = entries[i]!.offset;
  return out;
}

/**
 * The close, one step wherever it comes: EOT to the sink session, SEALED to the reader, then the
 * open epoch is emptied (one context update).
 */
const close = ["sendEot", "sendSealed", "clearEpoch"] as const;

/**
 * What a hand-over does, in `collecting` (stays) and in `flushing` or `eotSent` (starts collecting):
 * one list so the states cannot drift apart. Guards on the event, not an eventless check XState
 * would evaluate after every event (issue 12). The hand-over that fills the epoch is checked first,
 * so a first hand-over that fills it at once reports `full` alone, and every hand-over is decided by
 * at most two guards (each an XState call with its own arguments, issue 12 session 9).
 */
function handOver<Target extends "collecting" | undefined>(target: Target) {
  return [
    { guard: "fillsEpoch", target, actions: ["appendFull", "reportFull"] },
    { guard: "isFirstData", target, actions: ["append", "reportFilling"] },
    { target, actions: "append" },
  ] as const;
}

export const batcherMachine = setup({
  types: {
    context: {} as BatcherContext,
    input: {} as BatcherInput,
    events: {} as BatcherEvent,
  },
  guards: {
    // The epoch's first news: its first data, or a watermark it did not have (idle partitions).
    isFirstData: ({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return !hasNews(context) && (event.entries.length > 0 || isNewerWatermark(event.watermark, context.watermark));
    },
    // The hand-over that fills the epoch, reported once per epoch. When it is the epoch's first
    // (a reader that read a whole window), `batcher.full` alone says both that the epoch has data
    // and that it should close. A guard on the event, not an eventless check that XState would
    // evaluate after every event (issue 12).
    fillsEpoch: ({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return !context.fullReported && context.openCount + event.entries.length >= context.readBatchSize;
    },
  },
  actions: {
    append: assign(({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return appended(context, event, context.fullReported);
    }),
    reportFilling: sendParent(({ context }): BatcherFillingEvent => ({ type: "batcher.filling", partition: context.partition })),
    // The hand-over that fills the epoch: one context update, then the report. Named actions, not
    // `enqueueActions`: that one builds its `enqueue` helpers and a fresh action object per queued
    // action on every step, which cost more than the step itself (issue 12, session 8).
    appendFull: assign(({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return appended(context, event, true);
    }),
    reportFull: sendParent(({ context }): BatcherFullEvent => ({ type: "batcher.full", partition: context.partition })),
    // The close: EOT to the sink session, SEALED to the reader, then the open epoch is emptied.
    // Both frames are built from the context before `clearEpoch` runs (XState resolves a list's
    // actions in order, each seeing the context the ones before it left).
    sendEot: sendTo(
      ({ context, system }) => system.get(actorIds.sinkSession(context.vertex, context.partition)),
      ({ context, event }): EotFrame => {
        assertEvent(event, "supervisor.closeEpoch");
        const { partition, openCount, watermark } = context;
        // The epoch's data rides on its EOT (one batch): DATA frames would cost an event and a
        // sink-session step each. The fields only when there is something: frames stay small.
        if (openCount === 0) {
          return watermark === undefined
            ? { type: "batcher.eot", partition, epoch: event.epoch, count: 0 }
            : { type: "batcher.eot", partition, epoch: event.epoch, count: 0, watermark };
        }
        const messages = messagesOf(context);
        return watermark === undefined
          ? { type: "batcher.eot", partition, epoch: event.epoch, count: openCount, messages }
          : { type: "batcher.eot", partition, epoch: event.epoch, count: openCount, messages, watermark };
      },
    ),
    sendSealed: sendTo(
      ({ context, system }) => system.get(actorIds.reader(context.vertex, context.partition)),
      ({ context, event }): SealedEvent => {
        assertEvent(event, "supervisor.closeEpoch");
        const { partition, watermark } = context;
        const offsets = offsetsOf(context);
        return watermark === undefined
          ? { type: "batcher.sealed", partition, epoch: event.epoch, offsets }
          : { type: "batcher.sealed", partition, epoch: event.epoch, offsets, watermark };
      },
    ),
    clearEpoch: assign(({ context }) => ({ open: [], openCount: 0, fullReported: false, sealedEpochs: context.sealedEpochs + 1, sealedWatermark: context.watermark })),
  },
}).createMachine({
  id: "batcher",
  context: ({ input }) => ({
    vertex: input.vertex,
    partition: input.partition,
    readBatchSize: input.readBatchSize,
    open: [],
    openCount: 0,
    fullReported: false,
    sealedEpochs: 0,
    watermark: undefined,
    sealedWatermark: undefined,
  }),
  initial: "collecting",
  on: { "supervisor.stop": ".stopped" },
  states: {
    collecting: {
      on: {
        "reader.batchRead": handOver(undefined),
        "supervisor.closeEpoch": { target: "flushing", actions: close },
      },
    },
    // The last close flushed what the epoch collected — its data on its EOT, its offsets on SEALED —
    // in the close's own step, and the open epoch holds nothing yet: the batcher rests here until
    // the next hand-over, while the sink session writes what it flushed (issue 12, session 9: the
    // close was two steps, the second an eventless one into `eotSent`).
    flushing: {
      on: {
        "reader.batchRead": handOver("collecting"),
        "supervisor.closeEpoch": { target: "eotSent", actions: close },
      },
    },
    // The last close found nothing collected: its EOT went out alone (count 0, the watermark kept),
    // so the join never waits on this partition (I3). A next empty close stays here.
    eotSent: {
      on: {
        "reader.batchRead": handOver("collecting"),
        "supervisor.closeEpoch": { actions: close },
      },
    },
    stopped: { type: "final" },
  },
});
