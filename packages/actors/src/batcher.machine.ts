/**
 * Holds what partition `p`'s reader hands over while an epoch is open, and closes the epoch
 * when the supervisor says so.
 *
 *   collecting ──supervisor.closeEpoch(e)──▶ flushing ──▶ eotSent ──▶ collecting
 *        │ reader.batchRead: append               sends DATA(p,e,messages) then EOT(p,e,count)
 *        │   first data → batcher.filling         to the sink session, and SEALED(p,e,offsets)
 *        │   readBatchSize reached → batcher.full to the reader
 *        │   (first data that fills it at once → batcher.full alone)
 *   supervisor.stop ──▶ stopped
 *
 * Keeps: an EOT is sent for every closed epoch — at once, with `count = 0`, when the partition
 * read nothing — so the join never waits on a partition with nothing to say (I3). The EOT's
 * count is exactly the number of messages in the DATA frames of `(p, e)`. Watermarks (issue #13):
 * the latest one handed over is kept across epochs and rides on every EOT and SEALED, so an idle
 * partition's count-0 EOT carries it too; a watermark newer than the last sealed one is news like
 * data (`batcher.filling`), so an epoch closes to carry it. Without watermarks nothing changes.
 */
import { assertEvent, assign, enqueueActions, sendParent, setup } from "xstate";
import {
  actorIds,
  type BatcherFillingEvent,
  type BatcherFullEvent,
  type BatchReadEvent,
  type CloseEpochEvent,
  type DataFrame,
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
    // The first hand-over of the epoch already fills it (a reader that read a whole window):
    // `batcher.full` alone says both that the epoch has data and that it should close.
    fillsEmptyEpoch: ({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return context.openCount === 0 && event.entries.length >= context.readBatchSize;
    },
    // A later hand-over that fills the epoch. A guard on the event, not an eventless check that
    // XState would evaluate after every event (issue 12).
    fillsOpenEpoch: ({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return !context.fullReported && context.openCount + event.entries.length >= context.readBatchSize;
    },
  },
  actions: {
    append: assign(({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      // An older watermark than the one kept does not lower it.
      const watermark = isNewerWatermark(event.watermark, context.watermark) ? { watermark: event.watermark } : {};
      if (event.entries.length === 0) return watermark;
      return { open: [...context.open, event.entries], openCount: context.openCount + event.entries.length, ...watermark };
    }),
    reportFilling: sendParent(({ context }): BatcherFillingEvent => ({ type: "batcher.filling", partition: context.partition })),
    reportFull: enqueueActions(({ context, enqueue }) => {
      const full: BatcherFullEvent = { type: "batcher.full", partition: context.partition };
      enqueue.sendParent(full);
      enqueue.assign({ fullReported: true });
    }),
    sendEpoch: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "supervisor.closeEpoch");
      const { partition, vertex, open, openCount, watermark } = context;
      const session = system.get(actorIds.sinkSession(vertex, partition));
      const reader = system.get(actorIds.reader(vertex, partition));
      // One pass over the hand-overs builds both lists, each allocated once at its final size.
      const messages: Message[] = new Array(openCount);
      const offsets: string[] = new Array(openCount);
      let at = 0;
      for (const entries of open) {
        for (let i = 0; i < entries.length; i += 1) {
          const entry = entries[i]!;
          messages[at] = entry.message;
          offsets[at] = entry.offset;
          at += 1;
        }
      }
      if (openCount > 0) {
        const data: DataFrame = { type: "batcher.data", partition, epoch: event.epoch, messages };
        enqueue.sendTo(session, data);
      }
      // The field only when there is a watermark: frames of pipelines without event time stay as they were.
      const eot: EotFrame =
        watermark === undefined
          ? { type: "batcher.eot", partition, epoch: event.epoch, count: openCount }
          : { type: "batcher.eot", partition, epoch: event.epoch, count: openCount, watermark };
      enqueue.sendTo(session, eot);
      const sealed: SealedEvent =
        watermark === undefined
          ? { type: "batcher.sealed", partition, epoch: event.epoch, offsets }
          : { type: "batcher.sealed", partition, epoch: event.epoch, offsets, watermark };
      enqueue.sendTo(reader, sealed);
      enqueue.assign({ open: [], openCount: 0, fullReported: false, sealedEpochs: context.sealedEpochs + 1, sealedWatermark: watermark });
    }),
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
        "reader.batchRead": [
          { guard: "fillsEmptyEpoch", actions: ["append", "reportFull"] },
          { guard: "isFirstData", actions: ["append", "reportFilling"] },
          { guard: "fillsOpenEpoch", actions: ["append", "reportFull"] },
          { actions: "append" },
        ],
        "supervisor.closeEpoch": "flushing",
      },
    },
    // Flushing and eotSent are passed in one step: the hand-over is synchronous, and naming the
    // steps keeps the protocol visible in the inspector and in traces.
    flushing: {
      entry: "sendEpoch",
      always: "eotSent",
    },
    eotSent: {
      always: "collecting",
    },
    stopped: { type: "final" },
  },
});
