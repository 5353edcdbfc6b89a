import { describe, expect, it } from "vitest";
import type { InspectionEvent } from "xstate";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: the actor layer's cost is per partition-epoch. Each read and each ack used to be an
// invoked `fromPromise` actor (with its AbortController and three XState events); a reader now
// has one long-lived I/O actor. This pins the structure, not a duration: which actors a run
// creates and how many events each partition-epoch takes.
describe("supervisor: XState work per partition-epoch", () => {
  it("creates no actor per read or ack, and stays within its event budget per partition-epoch", async () => {
    const partitions = 2;
    const perPartition = 1_000;
    const readBatchSize = 100;
    const created = new Map<string, number>();
    const events = new Map<string, number>();
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type === "@xstate.actor") {
        const src = (inspection.actorRef as unknown as { src?: unknown }).src;
        const name = typeof src === "string" ? src : "(root)";
        created.set(name, (created.get(name) ?? 0) + 1);
      } else if (inspection.type === "@xstate.event") {
        events.set(inspection.event.type, (events.get(inspection.event.type) ?? 0) + 1);
      }
    };
    const { output } = await runWired({
      readBatch: queuedReads(evenQueues(partitions, perPartition)),
      inspect,
      input: supervisorInput({ partitions, readBatchSize, maxInflightEpochs: 4, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");

    const partitionEpochs = events.get("sink.epochDone") ?? 0;
    expect(partitionEpochs).toBeGreaterThanOrEqual((partitions * perPartition) / readBatchSize);
    // The root, and per partition a reader, a batcher, a sink session, one readerIo and one sink
    // writer (DESIGN §7): nothing per read, per ack or per attempt.
    expect(Object.fromEntries(created)).toEqual({
      "(root)": 1,
      partitionReader: partitions,
      batcher: partitions,
      sinkSession: partitions,
      readerIo: partitions,
      sinkWriter: partitions,
    });
    const total = [...events.values()].reduce((sum, n) => sum + n, 0);
    expect(total / partitionEpochs).toBeLessThanOrEqual(EVENT_BUDGET);
  });
});

/**
 * XState events per partition-epoch in this run (every epoch filled by one read). Before issue 12:
 * 18.2 (a read, an ack and a writer each brought `xstate.init`, and the promises their resolve and
 * `done` events, plus `sinkIo.sent`); 13.3 with long-lived I/O actors; 12.6 since an epoch's data
 * rides on its EOT (no `batcher.data`). Reads stream within a grant, but here every grant is one read.
 */
const EVENT_BUDGET = 13;
