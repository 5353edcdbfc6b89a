import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Transition {
  readonly source: { readonly id: string };
  readonly eventType: string;
}

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
      const inputs = Array.from({ length: partitions }, (_, p) =>
        Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
      );
      const eventless: string[] = [];
      let supervisorSteps = 0;
      const inspect = (inspection: InspectionEvent) => {
        if (inspection.type !== "@xstate.microstep") return;
        const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
        if (logic?.id !== "supervisor") return;
        supervisorSteps += 1;
        const transitions = (inspection as unknown as { _transitions: readonly Transition[] })._transitions;
        for (const t of transitions) {
          if (t.eventType === "" && /running\.(joining|committing)|commits\.(joining|committing)/.test(t.source.id)) eventless.push(t.source.id);
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
      const actor = createActor(machine, {
        inspect,
        input: supervisorInput({ partitions, readBatchSize: 50, maxInflightEpochs: 2, sinkCommit }),
      }).start();
      const output = await toPromise(actor);
      expect(output.status).toBe("completed");
      expect(new Set(acked).size).toBe(partitions * perPartition);
      expect(acked.length).toBe(partitions * perPartition);
      expect(output.committedEpochs).toBeGreaterThanOrEqual(perPartition / 50);
      expect(supervisorSteps).toBeGreaterThan(0);
      expect(eventless).toEqual([]);
    });
  }
});
