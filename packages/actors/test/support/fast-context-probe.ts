/**
 * Run in a fresh `node --allow-natives-syntax --import tsx` process by context-shape.test.ts: runs
 * a two-partition vertex to completion and prints, per machine, whether every context it went
 * through kept V8's fast properties. A fresh process matters: whether an object built by
 * `Object.assign({}, {}, context)` (XState's first assign) stays fast depends on the map
 * transitions the process has made so far, and a pipeline starts from none.
 */
import { createActor, toPromise, type InspectionEvent } from "xstate";
import {
  defaultRetryPolicy,
  fromPartitionIo,
  fromSinkFunction,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
} from "../../src/index.js";

// `%HasFastProperties` is V8 syntax, parsed only with --allow-natives-syntax: built at run time.
const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: object) => boolean;

const partitions = 2;
const queues = Array.from({ length: partitions }, (_, p) =>
  Array.from({ length: 200 }, (_, i) => ({
    offset: String(i + 1),
    message: { id: `p${p}-${i}`, keys: [], value: new Uint8Array(1), eventTime: 0, headers: {} },
  })),
);
const machine = supervisorMachine.provide({
  actors: {
    partitionReader: partitionReaderMachine.provide({
      actors: {
        readerIo: fromPartitionIo({
          read: async (input) => {
            const queue = queues[input.partition]!;
            const entries = input.fromPending ? [] : queue.splice(0, input.max);
            return { entries, endOfStream: !input.fromPending && queue.length === 0 };
          },
          ack: async () => undefined,
        }),
      },
    }),
    sinkSession: sinkSessionMachine.provide({
      actors: { sinkWriter: fromSinkFunction(async (messages) => messages.map((m) => ({ id: m.id, status: "ok" as const }))) },
    }),
  },
});
const slow = new Map<string, number>();
const seen = new Map<string, number>();
const inspect = (inspection: InspectionEvent) => {
  if (inspection.type !== "@xstate.snapshot") return;
  const snapshot = inspection.snapshot as { context?: unknown; machine?: { id: string } };
  if (snapshot.machine === undefined || typeof snapshot.context !== "object" || snapshot.context === null) return;
  const id = snapshot.machine.id;
  seen.set(id, (seen.get(id) ?? 0) + 1);
  if (!hasFastProperties(snapshot.context)) slow.set(id, (slow.get(id) ?? 0) + 1);
};
const actor = createActor(machine, {
  inspect,
  input: {
    vertex: "v",
    partitions,
    readBatchSize: 50,
    readTimeoutMs: 5,
    maxInflightEpochs: 2,
    retry: defaultRetryPolicy,
    resultTimeoutMs: 1_000,
    sinkCommit: false,
  },
}).start();
const output = await toPromise(actor);
process.stdout.write(
  `${JSON.stringify({ status: output.status, machines: Object.fromEntries([...seen].map(([id, n]) => [id, { snapshots: n, slow: slow.get(id) ?? 0 }])) })}\n`,
);
