import { describe, expect, it } from "vitest";
import { createActor, fromPromise, toPromise } from "xstate";
import {
  batcherMachine,
  defaultRetryPolicy,
  fromSinkFunction,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type AckInput,
  type Message,
  type ReadBatchInput,
  type ReadBatchOutput,
} from "@weir/actors";

// Regression (found by the fault suite, skew scenario): the drain's last close trusted the
// supervisor's `hasData` flag, set by `batcher.filling`; when that report had not been seen, the
// last messages were read but never sealed, delivered or acked, and the vertex still "completed".
// The readers' `reader.draining` now carries what they handed over unsealed.
describe("supervisor: the drain's last close", () => {
  it("seals what the readers handed over even when no batcher reported filling", async () => {
    const message = (id: string): Message => ({ id, keys: [], value: new Uint8Array(), eventTime: 0, headers: {} });
    const inputs = [0, 1, 2].map((p) => Array.from({ length: 30 }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })));
    const delivered: string[] = [];
    const acked: string[] = [];
    const machine = supervisorMachine.provide({
      actors: {
        // A batcher whose `batcher.filling` never reaches the supervisor.
        batcher: batcherMachine.provide({ actions: { reportFilling: () => undefined } }),
        partitionReader: partitionReaderMachine.provide({
          actors: {
            readBatch: fromPromise<ReadBatchOutput, ReadBatchInput>(async ({ input }) => {
              const queue = inputs[input.partition]!;
              const entries = input.fromPending ? [] : queue.splice(0, input.max);
              return { entries, endOfStream: !input.fromPending && queue.length === 0 };
            }),
            ackOffsets: fromPromise<void, AckInput>(async ({ input }) => {
              acked.push(...input.offsets);
            }),
          },
        }),
        sinkSession: sinkSessionMachine.provide({
          actors: {
            sinkWriter: fromSinkFunction(async (messages) => {
              delivered.push(...messages.map((m) => m.id));
              return messages.map((m) => ({ id: m.id, status: "ok" as const }));
            }),
          },
        }),
      },
    });
    const actor = createActor(machine, {
      input: { vertex: "v", partitions: 3, readBatchSize: 1_000, readTimeoutMs: 5, maxInflightEpochs: 2, retry: defaultRetryPolicy, resultTimeoutMs: 1_000 },
    }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(delivered).toHaveLength(90);
    expect(acked).toHaveLength(90);
  });
});
