/**
 * What one XState step of each machine costs on its own: the machine's `transition` called again
 * and again from one snapshot with one event, through a fixed actor scope (XState's pure
 * `transition()` builds a new actor per call, which costs more than the step). No I/O, no other
 * actor, little garbage surviving: the floor under what the same step costs in a pipeline, where
 * the garbage collector and the other actors come on top (docs/design-notes.md, "What an XState
 * step costs", issue 12).
 *
 * Beside the CPU time, the bytes a step allocates (`bytesPerStep`): XState builds a new snapshot, its
 * state value and several Sets and Maps per microstep and per `assign`, and that garbage is what
 * makes the pipeline's scavenges frequent enough to promote messages in flight (issue 12,
 * session 9). `--only <text>` measures the steps whose name contains it.
 *
 *   node .build/micro/step-cost.js [--iterations 100000] [--only supervisor]
 */
import { createActor, initialTransition, setup, type AnyActorScope, type AnyStateMachine, type EventObject } from "xstate";
import { startHeapAllocation } from "../heap-allocation.js";
import { batcherMachine, defaultRetryPolicy, partitionReaderMachine, sinkSessionMachine, supervisorMachine, type Message } from "@weir/actors";

const argv = process.argv.slice(2);
const iterations = argv.includes("--iterations") ? Number(argv[argv.indexOf("--iterations") + 1]) : 100_000;
const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1]! : undefined;

/**
 * An actor scope whose effects go nowhere: the step's actions are resolved, not executed. Its actor
 * has a stand-in parent, so `sendParent` resolves (to an actor that never runs).
 */
function inertScope(machine: AnyStateMachine, input: unknown): AnyActorScope {
  // A parent, so that steps which send to it (the batcher's reports) resolve; nothing is delivered.
  const parent = createActor(setup({}).createMachine({}));
  const self = createActor(machine, { input, parent } as Parameters<typeof createActor>[1]);
  const nothing = () => undefined;
  return { self, defer: nothing, id: "", logger: nothing, sessionId: "", stopChild: nothing, system: self.system, emit: nothing, actionExecutor: nothing } as unknown as AnyActorScope;
}

type AnyEvent = EventObject & Record<string, unknown>;

/** `event`'s step from the snapshot the machine reaches from its initial one through `before`. */
function measure(name: string, machine: AnyStateMachine, input: unknown, event: AnyEvent, before: readonly AnyEvent[] = []): void {
  if (only !== undefined && !name.includes(only)) return;
  const scope = inertScope(machine, input);
  let [snapshot] = initialTransition(machine, input);
  for (const earlier of before) snapshot = machine.transition(snapshot, earlier, scope);
  for (let i = 0; i < iterations / 10; i += 1) machine.transition(snapshot, event, scope);
  const cpu = process.cpuUsage();
  const allocation = startHeapAllocation();
  for (let i = 0; i < iterations; i += 1) machine.transition(snapshot, event, scope);
  const { bytes } = allocation();
  const used = process.cpuUsage(cpu);
  const cpuMicrosPerStep = Number(((used.user + used.system) / iterations).toFixed(2));
  process.stdout.write(`${JSON.stringify({ step: name, cpuMicrosPerStep, bytesPerStep: Math.round(bytes / iterations) })}\n`);
}

const messages: Message[] = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, keys: [], value: new Uint8Array(1), eventTime: 0, headers: {} }));
const entries = messages.map((message, i) => ({ offset: String(i + 1), message }));
const supervisor = { vertex: "v", partitions: 4, readBatchSize: 100, readTimeoutMs: 10, maxInflightEpochs: 4, retry: defaultRetryPolicy, resultTimeoutMs: 30_000, sinkCommit: false };
const reader = { vertex: "v", partition: 0, readBatchSize: 100, readTimeoutMs: 10 };

// The supervisor's steps of one epoch of 4 partitions, each from the state the earlier ones leave.
const tallies = { messages: 50, ok: 50, fallback: 0, dropped: 0, retries: 0 };
const filling = (partition: number) => ({ type: "batcher.filling", partition });
const full = { type: "batcher.full", partition: 0 };
const done = (partition: number) => ({ type: "sink.epochDone", partition, epoch: 1, tallies });
const acked = (partition: number) => ({ type: "reader.acked", partition, epoch: 1, count: 50 });
measure("supervisor: batcher.filling, the epoch's first (starts its timer)", supervisorMachine, supervisor, filling(0));
measure("supervisor: batcher.filling, the epoch's timer already running", supervisorMachine, supervisor, filling(1), [filling(0)]);
measure("supervisor: batcher.full, closing the epoch", supervisorMachine, supervisor, full, [filling(0)]);
measure("supervisor: sink.epochDone, not yet joined", supervisorMachine, supervisor, done(1), [filling(0), full, done(0)]);
measure("supervisor: sink.epochDone, joining the epoch (commit sent)", supervisorMachine, supervisor, done(3), [filling(0), full, done(0), done(1), done(2)]);
measure("supervisor: reader.acked, not yet committed", supervisorMachine, supervisor, acked(1), [filling(0), full, done(0), done(1), done(2), done(3), acked(0)]);
measure("supervisor: reader.acked, committing the epoch", supervisorMachine, supervisor, acked(3), [filling(0), full, done(0), done(1), done(2), done(3), acked(0), acked(1), acked(2)]);
measure("supervisor: sink.epochDone (no such epoch)", supervisorMachine, supervisor, { type: "sink.epochDone", partition: 0, epoch: 9, tallies });
measure("reader: readerIo.batch within a grant", partitionReaderMachine, reader, { type: "readerIo.batch", entries, endOfStream: false });
measure("reader: readerIo.batch ending the grant", partitionReaderMachine, reader, { type: "readerIo.batch", entries, endOfStream: false, done: true });
measure("reader: batcher.sealed", partitionReaderMachine, reader, { type: "batcher.sealed", partition: 0, epoch: 1, offsets: ["1"] });
const session = { vertex: "v", partition: 0, retry: defaultRetryPolicy, resultTimeoutMs: 30_000 };
const eot = { type: "batcher.eot", partition: 0, epoch: 1, count: messages.length, messages };
measure("sink session: batcher.eot starting the attempt", sinkSessionMachine, session, eot);
measure("sink session: sinkIo.allOk completing the epoch", sinkSessionMachine, session, { type: "sinkIo.allOk", partition: 0, epoch: 1, attempt: 1 }, [eot]);
measure("sink session: batcher.eot with count 0", sinkSessionMachine, session, { type: "batcher.eot", partition: 0, epoch: 1, count: 0 });
// As the pipeline takes them: readerIo hands reads to the batcher, the reader hears grant ends.
const grantEnd = { type: "readerIo.batch", entries: [], endOfStream: false, done: true, handedOver: 50 };
const windowFull = { type: "readerIo.batch", entries: [], endOfStream: false, done: true, handedOver: 100 };
const sealed = { type: "batcher.sealed", partition: 0, epoch: 1, offsets: entries.map((entry) => entry.offset) };
measure("reader: readerIo.batch ending the grant, granting again (pipeline)", partitionReaderMachine, reader, grantEnd);
measure("reader: readerIo.batch ending the grant, window full", partitionReaderMachine, reader, windowFull);
measure("reader: batcher.sealed in awaitingCommit, freeing room", partitionReaderMachine, reader, sealed, [windowFull]);
measure("reader: supervisor.commit of a sealed epoch", partitionReaderMachine, reader, { type: "supervisor.commit", epoch: 1 }, [windowFull, sealed]);
measure("reader: readerIo.acked", partitionReaderMachine, reader, { type: "readerIo.acked", epoch: 1 }, [windowFull, sealed, { type: "supervisor.commit", epoch: 1 }]);
const batcher = { vertex: "v", partition: 0, readBatchSize: 100 };
const handOver = { type: "reader.batchRead", partition: 0, entries };
measure("batcher: reader.batchRead, first data (filling)", batcherMachine, batcher, handOver);
measure("batcher: reader.batchRead filling the epoch (full)", batcherMachine, batcher, handOver, [handOver]);
measure("batcher: supervisor.closeEpoch, into flushing", batcherMachine, batcher, { type: "supervisor.closeEpoch", epoch: 1 }, [handOver]);
measure("batcher: reader.batchRead, the first after a close", batcherMachine, batcher, handOver, [handOver, { type: "supervisor.closeEpoch", epoch: 1 }]);
