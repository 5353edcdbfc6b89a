import { describe, expect, it } from "vitest";
import { batcherMachine } from "@weir/actors";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { recordingSink, supervisorInput } from "./support/wired-supervisor.js";

// Regression (found by the fault suite, skew scenario): the drain's last close trusted the
// supervisor's `hasData` flag, set by `batcher.filling`; when that report had not been seen, the
// last messages were read but never sealed, delivered or acked, and the vertex still "completed".
// The readers' `reader.draining` now carries what they handed over unsealed.
describe("supervisor: the drain's last close", () => {
  it("seals what the readers handed over even when no batcher reported filling", async () => {
    const delivered: string[] = [];
    const { output, acked } = await runWired({
      // A batcher whose `batcher.filling` never reaches the supervisor.
      batcher: batcherMachine.provide({ actions: { reportFilling: () => undefined } }),
      readBatch: queuedReads(evenQueues(3, 30)),
      write: recordingSink(delivered),
      input: supervisorInput({ partitions: 3, readBatchSize: 1_000 }),
    });
    expect(output.status).toBe("completed");
    expect(delivered).toHaveLength(90);
    expect(acked).toHaveLength(90);
  });
});
