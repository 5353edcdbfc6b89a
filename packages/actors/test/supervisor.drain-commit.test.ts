import { describe, expect, it } from "vitest";
import { createActor, toPromise } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

// Regression (found by the fault suite): a drain that arrived while an epoch was being acked
// re-entered the commit region, selected the same epoch again and sent its readers a second
// commit; the reader queued it twice and wedged, and the worker never exited.
describe("supervisor: a drain while an epoch is being acked", () => {
  it("resumes the commit in flight instead of committing it again, and finishes", async () => {
    let next = 0;
    const acks: string[] = [];
    const commits: number[] = [];
    let releaseAck: () => void = () => undefined;
    const machine = wiredSupervisor({
      readBatch: async (input, signal) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        // An endless input: batches until the drain.
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (signal.aborted) return { entries: [], endOfStream: false };
        const entries = Array.from({ length: input.max }, () => {
          next += 1;
          return { offset: String(next), message: message(`m${input.partition}-${next}`) };
        });
        return { entries, endOfStream: false };
      },
      ackOffsets: async (input) => {
        commits.push(input.epoch);
        // The first ack waits until the test has sent the drain.
        if (commits.length === 1) await new Promise<void>((resolve) => (releaseAck = resolve));
        acks.push(...input.offsets);
      },
    });
    const actor = createActor(machine, { input: supervisorInput({ readBatchSize: 10 }) });
    let drained = false;
    actor.subscribe((snapshot) => {
      if (!drained && snapshot.matches({ running: { committing: "acking" } }) && commits.length === 1) {
        drained = true;
        actor.send({ type: "pipeline.drain" });
        setTimeout(() => releaseAck(), 20);
      }
    });
    actor.start();
    const output = await toPromise(actor);
    expect(drained).toBe(true);
    expect(output.status).toBe("completed");
    // Every epoch was acked once, and so was every offset.
    expect(new Set(commits).size).toBe(commits.length);
    expect(new Set(acks).size).toBe(acks.length);
    expect(output.partitions[0]!.acked).toBe(acks.length);
  });
});
