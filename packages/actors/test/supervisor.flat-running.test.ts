import { describe, expect, it } from "vitest";
import { initialTransition, transition, type EventObject, type SnapshotFrom } from "xstate";
import { emptyTallies, supervisorMachine } from "@weir/actors";
import { supervisorInput } from "./support/wired-supervisor.js";
import { nodesBelow, rootOf } from "./support/machine-nodes.js";

interface Action {
  readonly type: string;
  readonly params?: { readonly event?: EventObject & { readonly epoch?: number } };
}

const filling = (partition: number) => ({ type: "batcher.filling" as const, partition });
const full = (partition: number) => ({ type: "batcher.full" as const, partition });
const done = (partition: number, epoch: number) => ({ type: "sink.epochDone" as const, partition, epoch, tallies: emptyTallies });
const acked = (partition: number, epoch: number) => ({ type: "reader.acked" as const, partition, epoch, count: 0 });

type SupervisorEvent = Parameters<typeof transition<typeof supervisorMachine>>[2];
type AnyMachineSnapshot = SnapshotFrom<typeof supervisorMachine>;

/** Runs `events` from `snapshot`, each as one `transition`; returns the last step's snapshot and actions. */
function steps(snapshot: AnyMachineSnapshot, events: readonly SupervisorEvent[]): [AnyMachineSnapshot, readonly Action[]] {
  let actions: readonly Action[] = [];
  for (const event of events) [snapshot, actions] = transition(supervisorMachine, snapshot, event) as unknown as [AnyMachineSnapshot, readonly Action[]];
  return [snapshot, actions];
}

function nodesOf(snapshot: AnyMachineSnapshot): readonly unknown[] {
  return (snapshot as unknown as { _nodes: readonly unknown[] })._nodes;
}

function sent(actions: readonly Action[], type: string): number[] {
  return actions.filter((a) => a.type === "xstate.sendTo" && a.params?.event?.type === type).map((a) => a.params!.event!.epoch!);
}
const closesSent = (actions: readonly Action[]) => sent(actions, "supervisor.closeEpoch");
const commitsSent = (actions: readonly Action[]) => sent(actions, "supervisor.commit");

// Issue 12, session 9: `running` was a parallel state (intake × commits), and a parallel state adds
// ~3.8 KB and ~2 µs to every step; the join and the commit were targeted transitions of the commit
// region on top. `running` is now one region resting in collecting, joining or committing (DESIGN
// §2's states), and a close held back by maxInflightEpochs is a flag (`closeRequested`), closed in
// the step of the commit that frees its slot.
describe("supervisor: running is one region", () => {
  const running = rootOf(supervisorMachine).states["running"]!;

  it("is not parallel, rests in collecting, joining or committing, and has no eventless transition", () => {
    expect(running.type).toBe("compound");
    expect(Object.keys(running.states)).toEqual(["collecting", "joining", "committing"]);
    const eventless = nodesBelow(running).filter((node) => (node.always ?? []).length > 0).map((node) => node.id);
    expect(eventless).toEqual([]);
  });

  it("aligned: closes, joins and commits an epoch; the steps that decide nothing keep the configuration", () => {
    const input = supervisorInput({ partitions: 3, readBatchSize: 10, maxInflightEpochs: 2, sinkCommit: false });
    const [initial] = initialTransition(supervisorMachine, input);
    expect(initial.value).toEqual({ running: "collecting" });
    const [closed, closing] = steps(initial, [filling(0), full(0)]);
    expect(closed.value).toEqual({ running: "joining" });
    expect(closesSent(closing)).toEqual([1, 1, 1]);

    const [twoDone] = steps(closed, [done(0, 1), done(1, 1)]);
    expect(twoDone.value).toEqual({ running: "joining" });
    expect(nodesOf(twoDone)).toBe(nodesOf(closed));

    const [joined, joining] = steps(twoDone, [done(2, 1)]);
    expect(joined.value).toEqual({ running: { committing: "acking" } });
    expect(commitsSent(joining)).toEqual([1, 1, 1]);
    const [twoAcked] = steps(joined, [acked(0, 1), acked(1, 1)]);
    expect(nodesOf(twoAcked)).toBe(nodesOf(joined));
    const [committed] = steps(twoAcked, [acked(2, 1)]);
    expect(committed.value).toEqual({ running: "collecting" });
    expect(committed.context.committedEpochs).toBe(1);
    expect(committed.context.units).toEqual([]);
  });

  for (const commitMode of ["aligned", "partition"] as const) {
    it(`a close held back by maxInflightEpochs happens in the step of the commit that frees its slot (${commitMode})`, () => {
      const input = supervisorInput({ partitions: 2, readBatchSize: 10, maxInflightEpochs: 1, sinkCommit: false, commitMode });
      const [initial] = initialTransition(supervisorMachine, input);
      // Partition 0 fills epoch 1 and closes it; it fills its next epoch while 1 is in flight.
      const [held, holding] = steps(initial, [filling(0), full(0), filling(0), full(0)]);
      expect(held.value).toEqual({ running: "joining" });
      expect(closesSent(holding)).toEqual([]);
      expect(held.context.parts[0]!.closeRequested).toBe(true);

      const epoch1Partitions = commitMode === "aligned" ? [0, 1] : [0];
      const [joined] = steps(
        held,
        epoch1Partitions.map((p) => done(p, 1)),
      );
      expect(joined.value).toEqual({ running: { committing: "acking" } });
      const [committed, committing] = steps(
        joined,
        epoch1Partitions.map((p) => acked(p, 1)),
      );
      // The commit of epoch 1 closes epoch 2 in its own step: the supervisor joins it next.
      expect(committed.value).toEqual({ running: "joining" });
      expect(closesSent(committing)).toEqual(commitMode === "aligned" ? [2, 2] : [2]);
      expect(committed.context.units.map((unit) => unit.epoch)).toEqual([2]);
      expect(committed.context.parts[0]!.closeRequested).toBe(false);
      expect(committing.some((a) => a.type === "xstate.emit")).toBe(true);
    });
  }

  it("partition mode: a full partition with room closes its epoch while another's close stays held", () => {
    const input = supervisorInput({ partitions: 2, readBatchSize: 10, maxInflightEpochs: 1, sinkCommit: false, commitMode: "partition" });
    const [initial] = initialTransition(supervisorMachine, input);
    // Partition 0: epoch 1 in flight, its next close held.
    const [held] = steps(initial, [filling(0), full(0), filling(0), full(0)]);
    expect(held.context.parts[0]!.closeRequested).toBe(true);
    // Partition 1 has room: its full closes epoch 2 for it alone, in its own step.
    const [closed, closing] = steps(held, [filling(1), full(1)]);
    expect(closesSent(closing)).toEqual([2]);
    expect(closed.value).toEqual({ running: "joining" });
    expect(closed.context.units.map((unit) => [unit.epoch, unit.partitions])).toEqual([
      [1, [0]],
      [2, [1]],
    ]);
    expect(closed.context.parts[0]!.closeRequested).toBe(true);
    // Committing partition 1's epoch frees no slot of partition 0: its close stays held.
    const [committed, committing] = steps(closed, [done(1, 2), acked(1, 2)]);
    expect(closesSent(committing)).toEqual([]);
    expect(committed.value).toEqual({ running: "joining" });
    expect(committed.context.parts[0]!.closeRequested).toBe(true);
  });
});
