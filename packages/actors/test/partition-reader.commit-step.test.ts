import { describe, expect, it } from "vitest";
import { eventlessFrom, microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: `supervisor.commit` was queued by the reader's root and the commit region's `idle`
// took an eventless step to `acking` (or completed an empty commit) after it: two microsteps per
// partition-epoch. The commit of an epoch already sealed, with nothing queued before it, now goes
// to `acking` (or completes) in its own step; the eventless check stays for commits that wait.
describe("partition reader: a commit is acted on in its own step", () => {
  it.each([
    ["with data in every epoch", false],
    ["with the empty epochs of an idle partition", true],
  ])("takes no eventless step out of commit.idle %s, and acks every entry once", async (_, withIdlePartition) => {
    const partitions = 2;
    const perPartition = 400;
    const queues = evenQueues(partitions, perPartition);
    if (withIdlePartition) queues[1] = [];
    const total = queues.reduce((sum, queue) => sum + queue.length, 0);
    const eventless: string[] = [];
    let commits = 0;
    let commitSteps = 0;
    const inspect = microstepsOf("partitionReader", (event, transitions) => {
      if (event.type === "supervisor.commit") commitSteps += 1;
      eventless.push(...eventlessFrom(transitions, /commit\.idle$/));
    });
    const { output, acked } = await runWired({
      readBatch: queuedReads(queues, { chunk: 30, pause: () => new Promise((resolve) => setTimeout(resolve, 0)) }),
      onAck: () => (commits += 1),
      inspect,
      input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(total);
    expect(acked.length).toBe(total);
    expect(commits).toBeGreaterThan(0);
    expect(commitSteps).toBeGreaterThan(0);
    expect(eventless).toEqual([]);
  });
});
