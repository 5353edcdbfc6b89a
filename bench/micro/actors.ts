/**
 * The actor layer alone: one vertex's supervisor (readers, batchers, sink sessions) over
 * in-memory arrays with I/O that answers at once, and a sink that answers `ok` for every
 * message. What is left is XState and Weir's bookkeeping per batch and per message — the floor
 * under every pipeline scenario.
 *
 *   node --import tsx micro/actors.ts [--partitions 4] [--messages 400000] [--batch 500] [--rounds 5] [--count-events] [--sink-commit] [--time-steps]
 */
import { createActor, fromPromise } from "xstate";
import { createStepTimes, formatStepTimes, timeSteps } from "./step-timer.js";
import {
  batcherMachine,
  defaultRetryPolicy,
  fromPartitionIo,
  fromSinkFunction,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type FallbackWriteInput,
  type Message,
  type ReadEntry,
  type SinkResult,
} from "@weir/actors";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback);
const partitions = option("partitions", 4);
const total = option("messages", 400_000);
const batch = option("batch", 500);
const rounds = option("rounds", 5);
/** Counting events needs an inspector, which costs time of its own: off unless asked for. */
const countEvents = argv.includes("--count-events");
/** `--time-steps`: time each machine's steps (hrtime around `transition`, which costs a little itself). */
const timeEachStep = argv.includes("--time-steps");
/** `--sink-commit`: run the commitEpoch step as for a transactional sink (off: the sink has no commit). */
const sinkCommit = argv.includes("--sink-commit");

const value = new Uint8Array(100);
function entriesFor(partition: number, count: number): ReadEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: String(i + 1),
    message: { id: `m-${partition}-${i}`, keys: [], value, eventTime: 0, headers: {} } satisfies Message,
  }));
}

async function round(): Promise<{ msgsPerSec: number; cpuMicrosPerMsg: number; events: number }> {
  const perPartition = Math.ceil(total / partitions);
  const inputs = Array.from({ length: partitions }, (_, p) => entriesFor(p, perPartition));
  const cursors = new Array<number>(partitions).fill(0);
  let events = 0;
  const byType = new Map<string, number>();
  let microsteps = 0;
  const times = createStepTimes();
  const timed = <M extends Parameters<typeof timeSteps>[0]>(logic: M): M => (timeEachStep ? timeSteps(logic, times) : logic);
  const machine = timed(supervisorMachine.provide({
    actors: {
      batcher: timed(batcherMachine.provide({})),
      partitionReader: timed(partitionReaderMachine.provide({
        actors: {
          readerIo: fromPartitionIo({
            read: async (input) => {
              const from = cursors[input.partition]!;
              const list = inputs[input.partition]!;
              const to = Math.min(list.length, from + input.max);
              cursors[input.partition] = to;
              return { entries: list.slice(from, to), endOfStream: to >= list.length };
            },
            ack: async () => undefined,
          }),
        },
      })),
      sinkSession: timed(sinkSessionMachine.provide({
        actors: {
          sinkWriter: fromSinkFunction(async (messages) => {
            const results: SinkResult[] = new Array(messages.length);
            for (let i = 0; i < messages.length; i += 1) results[i] = { id: messages[i]!.id, status: "ok" };
            return results;
          }),
          fallbackWriter: fromPromise<void, FallbackWriteInput>(async () => undefined),
        },
      })),
    },
  }));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const actor = createActor(machine, {
    input: {
      vertex: "v",
      partitions,
      readBatchSize: batch,
      readTimeoutMs: 10,
      maxInflightEpochs: 4,
      retry: defaultRetryPolicy,
      resultTimeoutMs: 30_000,
      sinkCommit,
    },
    ...(countEvents
      ? {
          inspect: (event: { type: string; event?: { type: string } }) => {
            if (event.type === "@xstate.microstep") microsteps += 1;
            if (event.type !== "@xstate.event") return;
            events += 1;
            const type = event.event!.type.replace(/\.\d+\..*/, ".*");
            byType.set(type, (byType.get(type) ?? 0) + 1);
          },
        }
      : {}),
  });
  const done = new Promise<void>((resolve) => actor.subscribe({ complete: () => resolve() }));
  actor.start();
  await done;
  const output = actor.getSnapshot().output!;
  const acked = output.partitions.reduce((sum, part) => sum + part.acked, 0);
  if (acked !== perPartition * partitions) throw new Error(`acked ${acked} of ${perPartition * partitions}`);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  if (countEvents) {
    const epochs = output.committedEpochs;
    process.stderr.write(`${epochs} epochs; per epoch: ${(microsteps / epochs).toFixed(1)} microsteps, events:\n`);
    for (const [type, n] of [...byType].sort((a, b) => b[1] - a[1])) process.stderr.write(`  ${(n / epochs).toFixed(2).padStart(6)} ${type}\n`);
  }
  if (timeEachStep) process.stderr.write(`steps by machine:\n${formatStepTimes(times, output.committedEpochs * partitions)}`);
  return { msgsPerSec: acked / seconds, cpuMicrosPerMsg: (used.user + used.system) / acked, events };
}

const results = [];
for (let i = 0; i < rounds; i += 1) results.push(await round());
results.sort((a, b) => a.msgsPerSec - b.msgsPerSec);
const median = results[Math.floor(results.length / 2)]!;
process.stdout.write(
  `${JSON.stringify({ scenario: `actors only, ${partitions} partitions, batch ${batch}`, messages: total, ...median, eventsPerMsg: median.events / total, all: results.map((r) => Math.round(r.msgsPerSec)) })}\n`,
);
