import { describe, expect, it } from "vitest";
import { eventlessFrom, microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: every supervisor step is an XState microstep (a snapshot, an eventless scan, a context
// copy). The join and the commit used to be eventless steps after the event that completed them
// (`sink.epochDone` → joining → committing, `reader.acked` → committing → joining → idle); the
// event that completes a join or a commit now takes the supervisor where it goes in one step
// (`running.joining`/`running.committing` since session 9, the draining commit region's too).
describe("supervisor: the commit region is driven by events", () => {
  for (const sinkCommit of [false, true]) {
    it(`joins and commits every epoch without an eventless step out of joining or committing (sinkCommit: ${sinkCommit})`, async () => {
      const partitions = 3;
      const perPartition = 600;
      const eventless: string[] = [];
      let supervisorSteps = 0;
      const inspect = microstepsOf("supervisor", (_, transitions) => {
        supervisorSteps += 1;
        eventless.push(...eventlessFrom(transitions, /running\.(joining|committing)|commits\.(joining|committing)/));
      });
      const { output, acked } = await runWired({
        readBatch: queuedReads(evenQueues(partitions, perPartition)),
        inspect,
        input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2, sinkCommit }),
      });
      expect(output.status).toBe("completed");
      expect(new Set(acked).size).toBe(partitions * perPartition);
      expect(acked.length).toBe(partitions * perPartition);
      expect(output.committedEpochs).toBeGreaterThanOrEqual(perPartition / 50);
      expect(supervisorSteps).toBeGreaterThan(0);
      expect(eventless).toEqual([]);
    });
  }
});
