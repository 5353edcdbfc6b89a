import { describe, expect, it } from "vitest";
import type { InspectionEvent } from "xstate";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: a read's answer used to take the reader two microsteps (into `handingOff`, whose entry
// handed the batch over, then an eventless step on to `reading`, `awaitingCommit` or `draining`).
// The answer now goes where it leads in the step that takes it.
describe("partition reader: a read's answer is one step", () => {
  it("takes one microstep per readerIo.batch, and still delivers and acks every entry once", async () => {
    const partitions = 2;
    const perPartition = 500;
    let answers = 0;
    let answerSteps = 0;
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type !== "@xstate.event" && inspection.type !== "@xstate.microstep") return;
      const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
      if (logic?.id !== "partitionReader" || inspection.event.type !== "readerIo.batch") return;
      if (inspection.type === "@xstate.event") answers += 1;
      else answerSteps += 1;
    };
    const { output, acked } = await runWired({
      // Short reads: some fill the window (awaitingCommit), the last one ends the stream (draining).
      readBatch: queuedReads(evenQueues(partitions, perPartition), { chunk: 70 }),
      inspect,
      input: supervisorInput({ partitions, readBatchSize: 100, maxInflightEpochs: 1, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(partitions * perPartition);
    expect(new Set(acked).size).toBe(partitions * perPartition);
    // One answer per grant (a grant's reads go from readerIo to the batcher directly, and seals
    // extend a running grant): at least the one that ends each partition's input.
    expect(answers).toBeGreaterThanOrEqual(partitions);
    expect(answerSteps).toBe(answers);
  });
});
