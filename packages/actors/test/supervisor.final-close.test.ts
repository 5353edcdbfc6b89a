import { describe, expect, it } from "vitest";
import { createActor, toPromise } from "xstate";
import { batcherMachine } from "@weir/actors";
import { message } from "./support/messages.js";
import { recordingSink, supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

// Regression (found by the fault suite, skew scenario): the drain's last close trusted the
// supervisor's `hasData` flag, set by `batcher.filling`; when that report had not been seen, the
// last messages were read but never sealed, delivered or acked, and the vertex still "completed".
// The readers' `reader.draining` now carries what they handed over unsealed.
describe("supervisor: the drain's last close", () => {
  it("seals what the readers handed over even when no batcher reported filling", async () => {
    const inputs = [0, 1, 2].map((p) => Array.from({ length: 30 }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })));
    const delivered: string[] = [];
    const acked: string[] = [];
    const machine = wiredSupervisor({
      // A batcher whose `batcher.filling` never reaches the supervisor.
      batcher: batcherMachine.provide({ actions: { reportFilling: () => undefined } }),
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        const entries = input.fromPending ? [] : queue.splice(0, input.max);
        return { entries, endOfStream: !input.fromPending && queue.length === 0 };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
      write: recordingSink(delivered),
    });
    const actor = createActor(machine, { input: supervisorInput({ partitions: 3, readBatchSize: 1_000 }) }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(delivered).toHaveLength(90);
    expect(acked).toHaveLength(90);
  });
});
