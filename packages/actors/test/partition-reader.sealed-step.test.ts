import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Transition {
  readonly source: { readonly id: string };
  readonly eventType: string;
}

// Issue 12: a reader whose window was full waited in `awaitingCommit` behind an eventless check
// (`shouldDrain`, `hasRoom`) that XState evaluated after every event it took there, and left it in
// an eventless step after the `batcher.sealed` that freed room. The seal (or a drain) now leaves it
// in its own step, and the fetch region has no eventless transition left but `backingOff`'s.
describe("partition reader: a seal that frees room leaves awaitingCommit in its own step", () => {
  it("takes no eventless step in the fetch region, and still delivers and acks every entry once", async () => {
    const partitions = 2;
    const perPartition = 600;
    const inputs = Array.from({ length: partitions }, (_, p) =>
      Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
    );
    const eventless: string[] = [];
    const leftAwaiting: string[] = [];
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type !== "@xstate.microstep") return;
      const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
      if (logic?.id !== "partitionReader") return;
      for (const t of (inspection as unknown as { _transitions: readonly Transition[] })._transitions) {
        if (/fetch\./.test(t.source.id) && t.eventType === "") eventless.push(t.source.id);
        if (/fetch\.awaitingCommit$/.test(t.source.id)) leftAwaiting.push(t.eventType);
      }
    };
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        if (input.fromPending) return { entries: [], endOfStream: false };
        // Every read fills the window: the reader waits for each seal.
        const entries = queue.splice(0, input.max);
        return { entries, endOfStream: queue.length === 0 };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, { inspect, input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2 }) }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);
    expect(acked.length).toBe(partitions * perPartition);
    expect(leftAwaiting.length).toBeGreaterThan(partitions * 5);
    expect(new Set(leftAwaiting)).toEqual(new Set(["batcher.sealed"]));
    expect(eventless).toEqual([]);
  });
});
