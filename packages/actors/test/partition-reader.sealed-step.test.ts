import { describe, expect, it } from "vitest";
import { microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: a reader whose window was full waited in `awaitingCommit` behind an eventless check
// (`shouldDrain`, `hasRoom`) that XState evaluated after every event it took there, and left it in
// an eventless step after the `batcher.sealed` that freed room. The seal (or a drain) now leaves it
// in its own step, and the fetch region has no eventless transition left but `backingOff`'s.
describe("partition reader: a seal that frees room leaves awaitingCommit in its own step", () => {
  it("takes no eventless step in the fetch region, and still delivers and acks every entry once", async () => {
    const partitions = 2;
    const perPartition = 600;
    const eventless: string[] = [];
    const leftAwaiting: string[] = [];
    const inspect = microstepsOf("partitionReader", (_, transitions) => {
      for (const t of transitions) {
        if (/fetch\./.test(t.source.id) && t.eventType === "") eventless.push(t.source.id);
        if (/fetch\.awaitingCommit$/.test(t.source.id)) leftAwaiting.push(t.eventType);
      }
    });
    const { output, acked } = await runWired({
      // Every read fills the window: the reader waits for each seal.
      readBatch: queuedReads(evenQueues(partitions, perPartition)),
      inspect,
      input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2 }),
    });
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);
    expect(acked.length).toBe(partitions * perPartition);
    expect(leftAwaiting.length).toBeGreaterThan(partitions * 5);
    expect(new Set(leftAwaiting)).toEqual(new Set(["batcher.sealed"]));
    expect(eventless).toEqual([]);
  });
});
