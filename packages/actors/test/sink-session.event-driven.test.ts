import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Transition {
  readonly source: { readonly id: string };
  readonly eventType: string;
}

// Issue 12: every sink-session step is an XState microstep (a snapshot, an eventless scan, a
// context copy). An epoch took an eventless step from `idle` to `attempt` after the EOT that made
// it ready; that EOT now starts the attempt in its own step (the states entered are the same).
// `eotReceived → idle` stays eventless: eotReceived is an EOT state every epoch enters (DESIGN §2).
describe("sink session: the EOT starts its epoch's attempt", () => {
  it("takes no eventless step out of idle when the EOT readies the next epoch", async () => {
    const partitions = 3;
    const perPartition = 600;
    const inputs = Array.from({ length: partitions }, (_, p) =>
      Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
    );
    const eventless: string[] = [];
    let steps = 0;
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type !== "@xstate.microstep") return;
      const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
      if (logic?.id !== "sinkSession") return;
      steps += 1;
      const transitions = (inspection as unknown as { _transitions: readonly Transition[] })._transitions;
      for (const t of transitions) {
        if (t.eventType === "" && /sinkSession\.idle$/.test(t.source.id)) eventless.push(t.source.id);
      }
    };
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        const entries = input.fromPending ? [] : queue.splice(0, input.max);
        return { entries, endOfStream: !input.fromPending && queue.length === 0 };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, { inspect, input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 1 }) }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);
    expect(steps).toBeGreaterThan(0);
    expect(eventless).toEqual([]);
  });
});
