import { describe, it, expect } from "vitest";
import { createActor, fromPromise, fromCallback, toPromise } from "xstate";
import { supervisorMachine, partitionReaderMachine, sinkSessionMachine, defaultRetryPolicy, type Message, type ReadBatchInput, type ReadBatchOutput, type AckInput, type SinkWriteInput } from "@weir/actors";

describe("smoke", () => {
  it("runs", async () => {
    const parts = 4, perPart = 2000;
    const queues = Array.from({ length: parts }, (_, p) => Array.from({ length: perPart }, (_, i) => ({ offset: String(i), message: { id: `m-${p}-${i}`, keys: [], value: new Uint8Array(), eventTime: 0, headers: {} } as Message })));
    const acked = new Set<string>();
    const delivered = new Set<string>();
    const machine = supervisorMachine.provide({
      actors: {
        partitionReader: partitionReaderMachine.provide({
          actors: {
            readBatch: fromPromise<ReadBatchOutput, ReadBatchInput>(async ({ input }) => {
              const q = queues[input.partition]!;
              const entries = q.splice(0, input.max);
              await new Promise((r) => setTimeout(r, 1));
              return { entries, endOfStream: q.length === 0 && entries.length === 0 };
            }),
            ackOffsets: fromPromise<void, AckInput>(async ({ input }) => { for (const o of input.offsets) acked.add(`${input.partition}:${o}`); }),
          },
        }),
        sinkSession: sinkSessionMachine.provide({
          actors: {
            sinkWriter: fromCallback<any, SinkWriteInput>(({ input, sendBack }) => {
              const t = setTimeout(() => {
                for (const m of input.messages) delivered.add(m.id);
                sendBack({ type: "sinkIo.results", partition: input.partition, epoch: input.epoch, attempt: input.attempt, results: input.messages.map((m) => ({ id: m.id, status: "ok" })) });
                sendBack({ type: "sinkIo.endOfResults", partition: input.partition, epoch: input.epoch, attempt: input.attempt });
              }, Math.random() * 5);
              return () => clearTimeout(t);
            }),
          },
        }),
      },
    });
    const actor = createActor(machine, { input: { vertex: "out", partitions: parts, readBatchSize: 100, readTimeoutMs: 20, maxInflightEpochs: 2, retry: defaultRetryPolicy, resultTimeoutMs: 5000 } });
    actor.start();
    const out = await toPromise(actor);
    console.log(JSON.stringify(out).slice(0, 500));
    expect(delivered.size).toBe(parts * perPart);
    expect(acked.size).toBe(parts * perPart);
  });
});
