import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

function partitionInputs(partitions: number, perPartition: number) {
  return Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
  );
}

function countEvents(counts: Map<string, number>) {
  return (inspection: InspectionEvent) => {
    if (inspection.type !== "@xstate.event") return;
    counts.set(inspection.event.type, (counts.get(inspection.event.type) ?? 0) + 1);
  };
}

// Issue 12: in aligned mode every epoch's first data cost a `batcher.filling` (a supervisor step)
// only to start the epoch's read timer. After a busy epoch the supervisor now starts the next
// epoch's timer at the close and tells the batchers (`quiet` on CLOSE_EPOCH) that their first data
// need not be reported; the epoch still closes when a batch is full or the timer fires.
describe("supervisor (aligned): the next epoch's timer starts at a busy epoch's close", () => {
  it("takes no batcher.filling after the first busy epoch, and still delivers and acks every entry once", async () => {
    const partitions = 2;
    const perPartition = 1_000;
    const inputs = partitionInputs(partitions, perPartition);
    const counts = new Map<string, number>();
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        if (input.fromPending) return { entries: [], endOfStream: false };
        // Short reads: an epoch's first hand-over does not fill it.
        const entries = queue.splice(0, Math.min(input.max, 30));
        return { entries, endOfStream: queue.length === 0 };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, {
      inspect: countEvents(counts),
      input: supervisorInput({ partitions, readBatchSize: 100, maxInflightEpochs: 2, sinkCommit: false }),
    }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(partitions * perPartition);
    expect(new Set(acked).size).toBe(partitions * perPartition);
    const epochs = counts.get("sink.epochDone") ?? 0;
    expect(epochs).toBeGreaterThanOrEqual((partitions * perPartition) / 100);
    // Only the first epoch (no busy close before it) reports its first data, per partition.
    expect(counts.get("batcher.filling") ?? 0).toBeLessThanOrEqual(partitions);
  });

  it("closes a quiet epoch on its timer, and goes back to reporting after an empty one", async () => {
    // 150 entries on one partition, then nothing: the epoch after the last busy close closes on
    // its timer (with the rest), and an idle vertex does not cycle empty epochs after that.
    const inputs = partitionInputs(1, 150);
    let idleReads = 0;
    const counts = new Map<string, number>();
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input, signal) => {
        const queue = inputs[input.partition]!;
        if (input.fromPending) return { entries: [], endOfStream: false };
        if (queue.length === 0) {
          idleReads += 1;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, input.timeoutMs);
            signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
          });
          return { entries: [], endOfStream: false };
        }
        return { entries: queue.splice(0, Math.min(input.max, 30)), endOfStream: false };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, {
      inspect: countEvents(counts),
      input: supervisorInput({ partitions: 1, readBatchSize: 100, maxInflightEpochs: 2, sinkCommit: false }),
    }).start();
    // Every entry acked: the quiet epoch holding the last 50 closed on its timer.
    await new Promise<void>((resolve) => {
      const sub = actor.subscribe(() => {
        if (acked.length >= 150) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const epochsWhenDone = counts.get("sink.epochDone") ?? 0;
    // Idle for a while: many readTimeouts (5 ms) pass, no epoch closes.
    await new Promise<void>((resolve) => {
      const sub = actor.subscribe(() => undefined);
      const check = setInterval(() => {
        if (idleReads >= 20) {
          clearInterval(check);
          sub.unsubscribe();
          resolve();
        }
      }, 1);
    });
    expect((counts.get("sink.epochDone") ?? 0) - epochsWhenDone).toBeLessThanOrEqual(1);
    actor.send({ type: "pipeline.drain" });
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(150);
  });
});
