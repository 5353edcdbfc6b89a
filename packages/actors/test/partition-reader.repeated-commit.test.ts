import { describe, expect, it } from "vitest";
import { createActor, setup, waitFor, type AnyActorRef } from "xstate";
import { fromPartitionIo, partitionReaderMachine, type AckInput, type ReadBatchOutput, type ReaderAckedEvent } from "@weir/actors";

// Issue #10 item 14: a reader that forgot which epochs it had acked passed every test. A commit
// repeated after its ack (a supervisor redelivering it, a drain re-entering the commit region)
// must neither ack those offsets again nor wedge the reader's commit queue behind an epoch that
// has nothing sealed any more: the next epoch's commit must still ack.
describe("partition reader: a commit repeated after its epoch was acked", () => {
  it("is ignored: no second ack, and later epochs still ack, in order", async () => {
    const acks: AckInput[] = [];
    const reported: number[] = [];
    const reader = partitionReaderMachine.provide({
      actors: {
        // Nothing to read: the test drives the commit side alone (batcher.sealed, supervisor.commit).
        readerIo: fromPartitionIo({
          read: (_, signal) =>
            new Promise<ReadBatchOutput>((resolve) => signal.addEventListener("abort", () => resolve({ entries: [], endOfStream: false }), { once: true })),
          ack: async (input) => {
            acks.push(input);
          },
        }),
      },
    });
    const parent = setup({
      types: { events: {} as ReaderAckedEvent },
      actors: { reader },
    }).createMachine({
      invoke: { id: "reader", src: "reader", input: { vertex: "v", partition: 0, readBatchSize: 10, readTimeoutMs: 10 } },
      on: { "reader.acked": { actions: ({ event }) => reported.push(event.epoch) } },
    });
    const actor = createActor(parent).start();
    const child = actor.getSnapshot().children["reader"] as AnyActorRef;

    child.send({ type: "batcher.sealed", partition: 0, epoch: 1, offsets: ["1-0", "1-1"] });
    child.send({ type: "supervisor.commit", epoch: 1 });
    await waitFor(actor, () => reported.length === 1, { timeout: 10_000 });

    child.send({ type: "supervisor.commit", epoch: 1 }); // repeated after the ack
    child.send({ type: "batcher.sealed", partition: 0, epoch: 2, offsets: ["2-0"] });
    child.send({ type: "supervisor.commit", epoch: 2 });
    await waitFor(actor, () => reported.length >= 2, { timeout: 10_000 }).catch(() => {
      throw new Error(`epoch 2 was never acked: the repeated commit of epoch 1 wedged the reader (acked epochs: ${reported.join(", ")})`);
    });
    child.send({ type: "supervisor.commit", epoch: 2 }); // and once more, then a third epoch
    child.send({ type: "batcher.sealed", partition: 0, epoch: 3, offsets: ["3-0"] });
    child.send({ type: "supervisor.commit", epoch: 3 });
    await waitFor(actor, () => reported.length >= 3, { timeout: 10_000 });

    expect(acks.map((ack) => [ack.epoch, ack.offsets])).toEqual([
      [1, ["1-0", "1-1"]],
      [2, ["2-0"]],
      [3, ["3-0"]],
    ]);
    expect(reported).toEqual([1, 2, 3]);
    actor.stop();
  });
});
