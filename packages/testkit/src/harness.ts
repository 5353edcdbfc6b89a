/**
 * Runs one vertex's supervisor — readers, batchers, sink sessions — over array inputs and a
 * scripted sink, on XState's `SimulatedClock` by default, so a test decides every latency and
 * timeout and a run is the same every time for the same seed.
 */
import { createActor, fromPromise, SimulatedClock, type Actor, type AnyActorRef } from "xstate";
import {
  defaultRetryPolicy,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type CommitEpochInput,
  type CommitMode,
  type FallbackWriteInput,
  type Message,
  type RetryPolicy,
  type SinkWriterLogic,
  type SupervisorEmitted,
  type SupervisorOutput,
} from "@weir/actors";
import { createArraySource, type ArraySource } from "./array-source.js";
import type { TestClock } from "./clock.js";
import { DeliveryLog } from "./delivery-log.js";
import { createScriptedSink, type ScriptedSink, type ScriptedSinkOptions } from "./scripted-sink.js";

export interface RunVertexOptions {
  /** Each partition's input, in order. */
  readonly inputs: readonly (readonly Message[])[];
  readonly sink?: ScriptedSinkOptions;
  /** Replaces the scripted sink with any sink writer. */
  readonly sinkWriter?: SinkWriterLogic;
  readonly commitMode?: CommitMode;
  readonly readBatchSize?: number;
  readonly readTimeoutMs?: number;
  readonly maxInflightEpochs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly resultTimeoutMs?: number;
  /** Partitions that stay open (idle, never ending) until `endOpenPartitionsAtMs`. */
  readonly openPartitions?: readonly number[];
  readonly endOpenPartitionsAtMs?: number;
  /**
   * Open partitions end only once every input message has been acked (and not before
   * `endOpenPartitionsAtMs`, when given). A join that waits on an idle partition then shows up
   * as a stall instead of passing because the idle partition happened to end.
   */
  readonly endOpenPartitionsOnceAllAcked?: boolean;
  /** A fallback that fails this many times before it succeeds. */
  readonly fallbackFailures?: number;
  readonly clock?: "simulated" | "real";
  /** Fails the run ("stall") when it has not finished after this much (simulated) time. */
  readonly timeLimitMs?: number;
  readonly seed?: number;
  /** Sends `pipeline.drain` at this (simulated) time. */
  readonly drainAtMs?: number;
}

export interface VertexRun {
  readonly output: SupervisorOutput;
  readonly log: DeliveryLog;
  readonly sink: ScriptedSink | undefined;
  readonly source: ArraySource;
  readonly emitted: readonly SupervisorEmitted[];
  /** Commit order: which epochs committed when, in simulated (or real) ms since start. */
  readonly commits: ReadonlyArray<{ readonly atMs: number; readonly epoch: number; readonly partitions: readonly number[]; readonly messages: number }>;
  readonly elapsedMs: number;
  /** The most epochs that were closed and uncommitted at once. */
  readonly maxInflightEpochs: number;
  /** The most closed, uncommitted epochs that held one partition at once, over all partitions. */
  readonly maxInflightEpochsPerPartition: number;
  /** Every call of the fallback writer, in order, with whether the harness made it fail. */
  readonly fallbackCalls: ReadonlyArray<{
    readonly atMs: number;
    readonly partition: number;
    readonly epoch: number;
    readonly items: ReadonlyArray<{ readonly id: string; readonly reason: string; readonly attempts: number }>;
    readonly failed: boolean;
  }>;
  /** Each child actor of the supervisor (`reader-0`, `batcher-0`, `sink-0`, …) as the run ended. */
  readonly finalChildStates: Readonly<Record<string, { readonly status: string; readonly value: unknown }>>;
}

export class StallError extends Error {
  constructor(message: string, readonly snapshot: unknown) {
    super(message);
    this.name = "StallError";
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runVertex(options: RunVertexOptions): Promise<VertexRun> {
  const simulated = (options.clock ?? "simulated") === "simulated";
  const clock = new SimulatedClock();
  const testClock: TestClock | undefined = simulated
    ? { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) }
    : undefined;
  const log = new DeliveryLog();
  const partitions = options.inputs.length;
  const source = createArraySource(options.inputs, {
    log,
    ...(testClock === undefined ? {} : { clock: testClock }),
    ...(options.openPartitions === undefined ? {} : { openPartitions: options.openPartitions }),
  });
  const started = performance.now();
  const now = () => (simulated ? clock.now() : performance.now() - started);
  const sink =
    options.sinkWriter === undefined
      ? createScriptedSink({ now, ...options.sink, log, partitions, ...(testClock === undefined ? {} : { clock: testClock }) })
      : undefined;
  let fallbackFailuresLeft = options.fallbackFailures ?? 0;
  const fallbackCalls: Array<VertexRun["fallbackCalls"][number]> = [];

  const machine = supervisorMachine.provide({
    actors: {
      partitionReader: partitionReaderMachine.provide({
        actors: { readerIo: source.readerIo },
      }),
      sinkSession: sinkSessionMachine.provide({
        actors: {
          sinkWriter: options.sinkWriter ?? sink!.sinkWriter,
          fallbackWriter: fromPromise<void, FallbackWriteInput>(async ({ input }) => {
            const failed = fallbackFailuresLeft > 0;
            const items = input.items.map((item) => ({ id: item.message.id, reason: item.reason, attempts: item.attempts }));
            fallbackCalls.push({ atMs: now(), partition: input.partition, epoch: input.epoch, items, failed });
            if (failed) {
              fallbackFailuresLeft -= 1;
              throw new Error("scripted fallback failure");
            }
            for (const item of input.items) {
              log.record({ kind: "fallbackWritten", id: item.message.id, partition: input.partition, epoch: input.epoch });
            }
          }),
        },
      }),
      commitEpoch: fromPromise<void, CommitEpochInput>(async () => undefined),
    },
  });

  const actor: Actor<typeof machine> = createActor(machine, {
    ...(simulated ? { clock } : {}),
    input: {
      vertex: "v",
      partitions,
      commitMode: options.commitMode ?? "aligned",
      readBatchSize: options.readBatchSize ?? 100,
      readTimeoutMs: options.readTimeoutMs ?? 50,
      maxInflightEpochs: options.maxInflightEpochs ?? 2,
      retry: { ...defaultRetryPolicy, ...options.retry },
      resultTimeoutMs: options.resultTimeoutMs ?? 1000,
      seed: options.seed ?? 1,
    },
  });
  const emitted: SupervisorEmitted[] = [];
  const commits: Array<VertexRun["commits"][number]> = [];
  actor.on("*", (event) => {
    emitted.push(event);
    if (event.type === "epochCommitted") {
      commits.push({ atMs: now(), epoch: event.epoch, partitions: event.partitions, messages: event.tallies.messages });
    }
  });

  let finished = false;
  let failure: unknown;
  let maxInflight = 0;
  let maxInflightPerPartition = 0;
  let children: Record<string, AnyActorRef | undefined> = {};
  actor.subscribe({
    next: (snapshot) => {
      const { units } = snapshot.context;
      maxInflight = Math.max(maxInflight, units.length);
      for (let p = 0; p < partitions; p += 1) {
        maxInflightPerPartition = Math.max(maxInflightPerPartition, units.filter((unit) => unit.partitions.includes(p)).length);
      }
      children = snapshot.children;
    },
    complete: () => (finished = true),
    error: (error) => ((failure = error), (finished = true)),
  });
  actor.start();

  const limit = options.timeLimitMs ?? 600_000;
  let openEnded = false;
  let drained = false;
  const inputIds = new Set(options.inputs.flatMap((messages) => messages.map((message) => message.id)));
  const ackedInputs = new Set<string>();
  let logRead = 0;
  const allAcked = () => {
    for (; logRead < log.events.length; logRead += 1) {
      const event = log.events[logRead]!;
      if (event.kind === "ack" && inputIds.has(event.id)) ackedInputs.add(event.id);
    }
    return ackedInputs.size === inputIds.size;
  };
  while (!finished) {
    await flush();
    if (finished) break;
    if (!drained && options.drainAtMs !== undefined && now() >= options.drainAtMs) {
      actor.send({ type: "pipeline.drain" });
      drained = true;
    }
    const endTimeReached = options.endOpenPartitionsAtMs !== undefined && now() >= options.endOpenPartitionsAtMs;
    const endDue =
      options.endOpenPartitionsOnceAllAcked === true
        ? (options.endOpenPartitionsAtMs === undefined || endTimeReached) && allAcked()
        : endTimeReached;
    if (!openEnded && endDue) {
      for (const p of options.openPartitions ?? []) source.end(p);
      openEnded = true;
    }
    if (now() > limit) {
      const snapshot = describeSystem(actor);
      actor.stop();
      throw new StallError(`vertex did not finish within ${limit}ms; actors: ${JSON.stringify(snapshot)}`, snapshot);
    }
    if (simulated) clock.increment(1);
    else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (failure !== undefined) throw failure;
  return {
    output: actor.getSnapshot().output!,
    log,
    sink,
    source,
    emitted,
    commits,
    elapsedMs: now(),
    maxInflightEpochs: maxInflight,
    maxInflightEpochsPerPartition: maxInflightPerPartition,
    fallbackCalls,
    finalChildStates: Object.fromEntries(
      Object.entries(children).flatMap(([id, child]) => {
        if (child === undefined) return [];
        const snapshot = child.getSnapshot() as { status: string; value?: unknown };
        return [[id, { status: snapshot.status, value: snapshot.value }]];
      }),
    ),
  };
}

/** Every actor's current state, for stall reports. */
export function describeSystem(actor: Actor<typeof supervisorMachine>): Record<string, unknown> {
  const snapshot = actor.getSnapshot();
  const children = Object.fromEntries(
    Object.entries(snapshot.children).map(([id, child]) => [id, (child?.getSnapshot() as { value?: unknown } | undefined)?.value]),
  );
  return { supervisor: snapshot.value, units: snapshot.context.units.map((unit) => unit.epoch), children };
}
