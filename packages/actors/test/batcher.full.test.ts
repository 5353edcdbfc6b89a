import { describe, expect, it } from "vitest";
import { createActor, setup, type AnyActorRef } from "xstate";
import { batcherMachine, type ReadEntry } from "@weir/actors";
import { message } from "./support/messages.js";

/** A parent that records what its batcher reports (`batcher.filling` / `batcher.full`). */
function startBatcher(readBatchSize: number) {
  const reports: string[] = [];
  const parent = setup({ actors: { batcher: batcherMachine } }).createMachine({
    invoke: { src: "batcher", id: "batcher", input: { vertex: "v", partition: 0, readBatchSize } },
    on: { "*": { actions: ({ event }) => void reports.push(event.type) } },
  });
  const actor = createActor(parent).start();
  const batcher = actor.getSnapshot().children["batcher"] as AnyActorRef;
  let next = 0;
  const handOver = (count: number) => {
    const entries: ReadEntry[] = Array.from({ length: count }, () => ({ offset: String(++next), message: message(`m${next}`) }));
    batcher.send({ type: "reader.batchRead", partition: 0, entries });
  };
  return { reports, handOver };
}

// The supervisor closes an epoch on `batcher.full`: reported once per epoch, by the hand-over
// that reaches readBatchSize, whether it is the first one or a later one.
describe("batcher: full", () => {
  it("reports filling on the first hand-over and full once, on the hand-over that fills the epoch", () => {
    const { reports, handOver } = startBatcher(10);
    handOver(6);
    expect(reports).toEqual(["batcher.filling"]);
    handOver(6);
    expect(reports).toEqual(["batcher.filling", "batcher.full"]);
    handOver(3);
    handOver(0);
    expect(reports).toEqual(["batcher.filling", "batcher.full"]);
  });

  it("reports full alone when the first hand-over fills the epoch", () => {
    const { reports, handOver } = startBatcher(10);
    handOver(10);
    handOver(4);
    expect(reports).toEqual(["batcher.full"]);
  });

  it("reports nothing for empty hand-overs", () => {
    const { reports, handOver } = startBatcher(10);
    handOver(0);
    handOver(0);
    expect(reports).toEqual([]);
  });
});
