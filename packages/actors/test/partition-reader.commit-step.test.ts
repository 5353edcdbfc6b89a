import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Transition {
  readonly source: { readonly id: string };
  readonly eventType: string;
}

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
    const inputs = Array.from({ length: partitions }, (_, p) =>
      withIdlePartition && p === 1 ? [] : Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
    );
    const total = inputs.reduce((sum, queue) => sum + queue.length, 0);
    const eventless: string[] = [];
    let commits = 0;
    let commitSteps = 0;
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type !== "@xstate.microstep") return;
      const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
      if (logic?.id !== "partitionReader") return;
      if (inspection.event.type === "supervisor.commit") commitSteps += 1;
      for (const t of (inspection as unknown as { _transitions: readonly Transition[] })._transitions) {
        if (t.eventType === "" && /commit\.idle$/.test(t.source.id)) eventless.push(t.source.id);
      }
    };
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        if (input.fromPending) return { entries: [], endOfStream: false };
        await new Promise((resolve) => setTimeout(resolve, 0));
        const entries = queue.splice(0, Math.min(input.max, 30));
        return { entries, endOfStream: queue.length === 0 };
      },
      ackOffsets: async (input) => {
        commits += 1;
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, { inspect, input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2, sinkCommit: false }) }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(total);
    expect(acked.length).toBe(total);
    expect(commits).toBeGreaterThan(0);
    expect(commitSteps).toBeGreaterThan(0);
    expect(eventless).toEqual([]);
  });
});
