import { describe, expect, it } from "vitest";
import { createActor, initialTransition, toPromise, transition } from "xstate";
import { supervisorMachine } from "../src/supervisor.machine.js";
import type { CommitMode } from "../src/supervisor.types.js";
import { microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads } from "./support/queued-io.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Run {
  /** Sources of the supervisor's eventless transitions taken while `running`. */
  readonly eventless: string[];
  /** Whether, after some step while running, a close was held back by maxInflightEpochs (`closeRequested`). */
  readonly heldBack: boolean;
  readonly acked: string[];
  readonly committedEpochs: number;
}

/**
 * A vertex of `partitions` partitions reading `perPartition` entries each, `perRead` at a time (so
 * batchers report `filling`, then `full`), acks resolved after `ackDelay()` (a promise) each.
 */
async function runVertex(options: {
  partitions: number;
  perPartition: number;
  perRead: number;
  readBatchSize: number;
  maxInflightEpochs: number;
  commitMode: CommitMode;
  ackDelay?: () => Promise<void>;
}): Promise<Run> {
  const { partitions, perPartition, perRead } = options;
  const eventless: string[] = [];
  let heldBack = false;
  const inspect = microstepsOf("supervisor", (_, transitions, snapshot) => {
    for (const t of transitions) if (t.eventType === "" && t.source.id.startsWith("supervisor.running")) eventless.push(t.source.id);
    const { value, context } = snapshot as { value: unknown; context: { parts: readonly { closeRequested: boolean }[] } };
    if (typeof value === "object" && value !== null && "running" in value) heldBack ||= context.parts.some((part) => part.closeRequested);
  });
  const acked: string[] = [];
  const machine = wiredSupervisor({
    readBatch: queuedReads(evenQueues(partitions, perPartition), { chunk: perRead }),
    ackOffsets: async (input) => {
      if (options.ackDelay) await options.ackDelay();
      acked.push(...input.offsets);
    },
  });
  const actor = createActor(machine, {
    inspect,
    input: supervisorInput({
      partitions,
      readBatchSize: options.readBatchSize,
      maxInflightEpochs: options.maxInflightEpochs,
      commitMode: options.commitMode,
      sinkCommit: false,
    }),
  }).start();
  const output = await toPromise(actor);
  expect(output.status).toBe("completed");
  return { eventless, heldBack, acked, committedEpochs: output.committedEpochs };
}

// Issue 12: each supervisor step is a microstep of a parallel state, and every `always` in its
// configuration is evaluated after every microstep of every event. A close (intake), the commit
// region's `idle → joining` after it, and `running → draining` when the last reader drains were
// eventless steps after the event that caused them; they are now taken in that event's step. Since
// session 9 `running` is one region with no eventless transition at all: a close held back by
// maxInflightEpochs (it was the `throttled` state's check) happens in the step of the commit that
// frees its slot.
describe("supervisor: closes, joins and the drain are decided by the events that cause them", () => {
  for (const commitMode of ["aligned", "partition"] as const) {
    it(`takes no eventless step while running and holds no close back (${commitMode})`, async () => {
      const partitions = 3;
      const perPartition = 400;
      const run = await runVertex({ partitions, perPartition, perRead: 20, readBatchSize: 50, maxInflightEpochs: 64, commitMode });
      expect(new Set(run.acked).size).toBe(partitions * perPartition);
      expect(run.acked.length).toBe(partitions * perPartition);
      expect(run.committedEpochs).toBeGreaterThanOrEqual(perPartition / 50);
      expect(run.heldBack).toBe(false);
      expect(run.eventless).toEqual([]);
    });

    it(`a close held back by maxInflightEpochs waits for a commit and happens in its step (${commitMode})`, async () => {
      const partitions = 2;
      const perPartition = 300;
      // Slow acks keep the one epoch in flight uncommitted while the next fills up.
      const ackDelay = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
      const run = await runVertex({ partitions, perPartition, perRead: 25, readBatchSize: 50, maxInflightEpochs: 1, commitMode, ackDelay });
      expect(new Set(run.acked).size).toBe(partitions * perPartition);
      expect(run.acked.length).toBe(partitions * perPartition);
      expect(run.heldBack).toBe(true);
      expect(run.eventless).toEqual([]);
    });
  }
});

// Aligned mode: the vertex-wide timer starts at the open epoch's first `batcher.filling`; only
// whether the epoch holds data matters after that, so the other batchers' fillings change nothing
// and take no step (they were an assign each: a context and snapshot copy).
describe("supervisor: batcher.filling once the epoch's timer runs", () => {
  const input = supervisorInput({ partitions: 4, readBatchSize: 100 });
  it("aligned: the epoch's first filling starts the timer; the next ones leave the snapshot as it is", () => {
    const [opened] = initialTransition(supervisorMachine, input);
    const [filling, firstActions] = transition(supervisorMachine, opened, { type: "batcher.filling", partition: 0 });
    expect(firstActions.some((action) => action.type === "xstate.raise")).toBe(true);
    const [after, actions] = transition(supervisorMachine, filling, { type: "batcher.filling", partition: 1 });
    expect(actions).toEqual([]);
    expect(after.context).toBe(filling.context);
  });

  it("partition mode: each partition's first filling starts its own timer", () => {
    const [opened] = initialTransition(supervisorMachine, { ...input, commitMode: "partition" });
    const [filling] = transition(supervisorMachine, opened, { type: "batcher.filling", partition: 0 });
    const [, actions] = transition(supervisorMachine, filling, { type: "batcher.filling", partition: 1 });
    expect(actions.some((action) => action.type === "xstate.raise")).toBe(true);
  });
});
