/**
 * DRAIN (DESIGN §2.1 step 7) in the middle of a run over unbounded inputs: readers stop reading,
 * every epoch in flight finishes and commits, every actor reaches a final state, and what was
 * never read stays in the source, un-acked, for the next run.
 */
import { describe, expect, it } from "vitest";
import { createActor, fromPromise, SimulatedClock } from "xstate";
import {
  defaultRetryPolicy,
  fromPartitionIo,
  fromSinkAttempts,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  type CommitMode,
  type FallbackWriteInput,
  type Message,
  type SupervisorEmitted,
} from "@weir/actors";
import {
  assertNothingAckedBeforeResult,
  assertNothingAckedTwice,
  assertPartitionsKeptApart,
  makeMessages,
  runVertex,
  type VertexRun,
} from "@weir/testkit";

const modes: CommitMode[] = ["aligned", "partition"];

/** Every child of the supervisor ended in its own final state (not stopped from outside). */
function expectChildrenFinal(run: VertexRun, partitions: number): void {
  const expected: Record<string, { status: string; value: unknown }> = {};
  for (let p = 0; p < partitions; p += 1) {
    expected[`reader-${p}`] = { status: "done", value: "stopped" };
    expected[`batcher-${p}`] = { status: "done", value: "stopped" };
    expected[`sink-${p}`] = { status: "done", value: "done" };
  }
  expect(run.finalChildStates).toEqual(expected);
}

/**
 * What was read was acked exactly once, after its result; what was not read is still in the
 * source. Reads take each partition in order, so the acked ids are a prefix of the input.
 */
function expectReadAckedRestInSource(inputs: readonly (readonly Message[])[], run: VertexRun): void {
  assertNothingAckedBeforeResult(run.log);
  assertNothingAckedTwice(run.log);
  assertPartitionsKeptApart(inputs, run.log);
  const acked = new Set(run.log.ackedIds());
  inputs.forEach((messages, p) => {
    const unread = run.source.unread(p).map((m) => m.id);
    const ackedHere = messages.filter((m) => acked.has(m.id)).map((m) => m.id);
    expect(ackedHere, `partition ${p}: acked ids are the read prefix`).toEqual(messages.slice(0, ackedHere.length).map((m) => m.id));
    expect(unread, `partition ${p}: the rest is unread`).toEqual(messages.slice(ackedHere.length).map((m) => m.id));
    expect(run.output.partitions[p]).toMatchObject({ acked: ackedHere.length, messages: ackedHere.length, ok: ackedHere.length });
  });
  expect(run.source.readCount()).toBe(acked.size);
}

/** Every (partition, epoch) the sink was asked to write belongs to an epoch that committed. */
function expectEveryWrittenEpochCommitted(run: VertexRun): void {
  const committed = new Set(run.commits.flatMap((c) => c.partitions.map((p) => `${p}:${c.epoch}`)));
  const written = new Set(run.sink!.attempts.filter((a) => a.ids.length > 0).map((a) => `${a.partition}:${a.epoch}`));
  expect([...written].filter((cell) => !committed.has(cell))).toEqual([]);
}

describe.each(modes)("drain mid-run (%s commit)", (commitMode) => {
  it("commits every epoch in flight, stops every child in a final state, leaves the unread input in the source", async () => {
    const inputs = makeMessages(3, [3_000, 0, 800]);
    const drainAtMs = 400;
    const run = await runVertex({
      inputs,
      commitMode,
      readBatchSize: 25,
      readTimeoutMs: 20,
      maxInflightEpochs: 3,
      // Never end on their own: only the drain stops the readers.
      openPartitions: [0, 1, 2],
      drainAtMs,
      resultTimeoutMs: 100,
      retry: { intervalMs: 5, onFailure: "retry" },
      sink: {
        seed: 5,
        latencyMs: (p) => (p === 2 ? { min: 20, max: 60 } : { min: 2, max: 15 }),
        failFirstAttempt: 0.1,
        // First attempts that start within a result timeout before the drain never answer: those
        // epochs are still in trouble (timeout, redrive) when the drain arrives.
        misbehave: (a) => (a.attempt === 1 && a.atMs >= drainAtMs - 100 && a.atMs < drainAtMs ? "silent" : undefined),
      },
      timeLimitMs: 20_000,
    });
    expect(run.output.status).toBe("completed");
    expect(run.sink!.misbehaviours.length).toBeGreaterThan(0);
    // Epochs written before the drain but not yet committed then (in flight) committed after it,
    // and nothing was left uncommitted.
    const commitTime = new Map(run.commits.flatMap((c) => c.partitions.map((p) => [`${p}:${c.epoch}`, c.atMs] as const)));
    const inFlightAtDrain = run.sink!.attempts.filter(
      (a) => a.ids.length > 0 && a.atMs < drainAtMs && (commitTime.get(`${a.partition}:${a.epoch}`) ?? 0) > drainAtMs,
    );
    expect(inFlightAtDrain.length).toBeGreaterThan(0);
    expectEveryWrittenEpochCommitted(run);
    expect(run.output.committedEpochs).toBe(run.commits.length);
    expectReadAckedRestInSource(inputs, run);
    // The drain cut the input short: partition 0 still holds most of its messages.
    expect(run.source.unread(0).length).toBeGreaterThan(1_000);
    expectChildrenFinal(run, inputs.length);
  });

  it("keeps maxInflightEpochs while draining a throttled vertex with a slow partition", async () => {
    const inputs = makeMessages(2, [2_000, 2_000]);
    const run = await runVertex({
      inputs,
      commitMode,
      readBatchSize: 10,
      maxInflightEpochs: 1,
      openPartitions: [0, 1],
      drainAtMs: 250,
      sink: { latencyMs: (p) => (p === 1 ? { min: 40, max: 80 } : { min: 1, max: 3 }) },
      timeLimitMs: 20_000,
    });
    expect(run.output.status).toBe("completed");
    if (commitMode === "aligned") expect(run.maxInflightEpochs).toBe(1);
    else expect(run.maxInflightEpochsPerPartition).toBe(1);
    expectEveryWrittenEpochCommitted(run);
    expectReadAckedRestInSource(inputs, run);
    expectChildrenFinal(run, inputs.length);
  });

  it("drains a vertex whose partitions are all idle: nothing to commit, every child final", async () => {
    const inputs = makeMessages(3, 0);
    const run = await runVertex({ inputs, commitMode, openPartitions: [0, 1, 2], drainAtMs: 120, timeLimitMs: 5_000 });
    expect(run.output.status).toBe("completed");
    expect(run.log.ackedIds()).toEqual([]);
    expectChildrenFinal(run, inputs.length);
  });
});

describe("stopping on a fatal error", () => {
  it("a reader that fails for good stops the vertex as failed, with every child in a final state", async () => {
    const clock = new SimulatedClock();
    // Partition 0 is idle (each read waits its timeout); partition 1's buffer is unreachable.
    const readerIo = fromPartitionIo({
      read: async (input) => {
        if (input.partition === 1) throw new Error("connection refused");
        await new Promise<void>((resolve) => clock.setTimeout(resolve, input.timeoutMs));
        return { entries: [], endOfStream: false };
      },
      ack: async () => {},
    });
    const sinkWriter = fromSinkAttempts(() => {
      throw new Error("nothing was read, so nothing may be written");
    });
    const machine = supervisorMachine.provide({
      actors: {
        partitionReader: partitionReaderMachine.provide({ actors: { readerIo } }),
        sinkSession: sinkSessionMachine.provide({
          actors: { sinkWriter, fallbackWriter: fromPromise<void, FallbackWriteInput>(async () => {}) },
        }),
      },
    });
    const actor = createActor(machine, {
      clock,
      input: {
        vertex: "v",
        partitions: 2,
        readBatchSize: 10,
        readTimeoutMs: 50,
        maxInflightEpochs: 2,
        retry: defaultRetryPolicy,
        resultTimeoutMs: 100,
      },
    });
    const emitted: SupervisorEmitted[] = [];
    actor.on("*", (event) => emitted.push(event));
    actor.start();
    while (actor.getSnapshot().status === "active" && clock.now() < 60_000) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      clock.increment(1);
    }
    const snapshot = actor.getSnapshot();
    expect(snapshot.status).toBe("done");
    expect(snapshot.output).toMatchObject({ status: "failed", reason: "reader of partition 1 failed: connection refused" });
    // Every failed read before the last was reported while the reader backed off.
    expect(emitted.filter((e) => e.type === "readFailed")).toHaveLength(19);
    const children = Object.fromEntries(
      Object.entries(snapshot.children).map(([id, child]) => {
        const state = child!.getSnapshot() as { status: string; value: unknown };
        return [id, [state.status, state.value]];
      }),
    );
    expect(children).toEqual({
      "reader-0": ["done", "stopped"],
      "reader-1": ["done", "failed"],
      "batcher-0": ["done", "stopped"],
      "batcher-1": ["done", "stopped"],
      "sink-0": ["done", "done"],
      "sink-1": ["done", "done"],
    });
  });
});
