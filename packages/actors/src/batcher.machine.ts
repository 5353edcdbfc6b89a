/**
 * Holds what partition `p`'s reader hands over while an epoch is open, and closes the epoch
 * when the supervisor says so.
 *
 *   collecting ──supervisor.closeEpoch(e)──▶ flushing ──▶ eotSent ──▶ collecting
 *        │ reader.batchRead: append               sends DATA(p,e,messages) then EOT(p,e,count)
 *        │   first data → batcher.filling         to the sink session, and SEALED(p,e,offsets)
 *        │   readBatchSize reached → batcher.full to the reader
 *   supervisor.stop ──▶ stopped
 *
 * Keeps: an EOT is sent for every closed epoch — at once, with `count = 0`, when the partition
 * read nothing — so the join never waits on a partition with nothing to say (I3). The EOT's
 * count is exactly the number of messages in the DATA frames of `(p, e)`.
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
import type { BatcherContext, BatcherInput } from "./batcher.types.js";

type BatcherEvent = BatchReadEvent | CloseEpochEvent | StopEvent;

export const batcherMachine = setup({
  types: {
    context: {} as BatcherContext,
    input: {} as BatcherInput,
    events: {} as BatcherEvent,
  },
  guards: {
    isFirstData: ({ context, event }) => {
      assertEvent(event, "reader.batchRead");
      return context.open.length === 0 && event.entries.length > 0;
    },
    isNewlyFull: ({ context }) => !context.fullReported && context.open.length >= context.readBatchSize,
  },
  actions: {
    append: assign({
      open: ({ context, event }) => {
        assertEvent(event, "reader.batchRead");
        return context.open.length === 0 ? event.entries : [...context.open, ...event.entries];
      },
    }),
    reportFilling: sendParent(({ context }): BatcherFillingEvent => ({ type: "batcher.filling", partition: context.partition })),
    reportFull: enqueueActions(({ context, enqueue }) => {
      const full: BatcherFullEvent = { type: "batcher.full", partition: context.partition };
      enqueue.sendParent(full);
      enqueue.assign({ fullReported: true });
    }),
    sendEpoch: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "supervisor.closeEpoch");
      const { partition, vertex, open } = context;
      const session = system.get(actorIds.sinkSession(vertex, partition));
      const reader = system.get(actorIds.reader(vertex, partition));
      if (open.length > 0) {
        const data: DataFrame = { type: "batcher.data", partition, epoch: event.epoch, messages: open.map((entry) => entry.message) };
        enqueue.sendTo(session, data);
      }
      const eot: EotFrame = { type: "batcher.eot", partition, epoch: event.epoch, count: open.length };
      enqueue.sendTo(session, eot);
      const sealed: SealedEvent = { type: "batcher.sealed", partition, epoch: event.epoch, offsets: open.map((entry) => entry.offset) };
      enqueue.sendTo(reader, sealed);
      enqueue.assign({ open: [], fullReported: false, sealedEpochs: context.sealedEpochs + 1 });
    }),
  },
}).createMachine({
  id: "batcher",
  context: ({ input }) => ({
    vertex: input.vertex,
    partition: input.partition,
    readBatchSize: input.readBatchSize,
    open: [],
    fullReported: false,
    sealedEpochs: 0,
  }),
  initial: "collecting",
  on: { "supervisor.stop": ".stopped" },
  states: {
    collecting: {
      on: {
        "reader.batchRead": [
          { guard: "isFirstData", actions: ["append", "reportFilling"] },
          { actions: "append" },
        ],
        "supervisor.closeEpoch": "flushing",
      },
      always: { guard: "isNewlyFull", actions: "reportFull" },
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
