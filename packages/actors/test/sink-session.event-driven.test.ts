import { describe, expect, it } from "vitest";
import { eventlessFrom, microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: every sink-session step is an XState microstep (a snapshot, an eventless scan, a
// context copy). An epoch took an eventless step from `idle` to `attempt` after the EOT that made
// it ready; that EOT now starts the attempt in its own step (the states entered are the same).
// `eotReceived → idle` stays eventless: eotReceived is an EOT state every epoch enters (DESIGN §2).
describe("sink session: the EOT starts its epoch's attempt", () => {
  it("takes no eventless step out of idle when the EOT readies the next epoch", async () => {
    const partitions = 3;
    const perPartition = 600;
    const eventless: string[] = [];
    let steps = 0;
    const inspect = microstepsOf("sinkSession", (_, transitions) => {
      steps += 1;
      eventless.push(...eventlessFrom(transitions, /sinkSession\.idle$/));
    });
    const { output, acked } = await runWired({
      readBatch: queuedReads(evenQueues(partitions, perPartition)),
      inspect,
      input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 1 }),
    });
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);
    expect(steps).toBeGreaterThan(0);
    expect(eventless).toEqual([]);
  });
});
