import { describe, expect, it } from "vitest";
import { createActor, fromCallback, setup, SimulatedClock, type AnyActorRef } from "xstate";
import {
  partitionReaderMachine,
  type ReaderAckedEvent,
  type ReaderDrainingEvent,
  type ReaderIoEvent,
  type ReaderIoInput,
  type ReaderIoRequest,
} from "@weir/actors";
import { nodesBelow, rootOf, type DefinitionNode } from "./support/machine-nodes.js";
import { microstepsOf, type StepTransition } from "./support/microsteps.js";

/** Every node of the reader's definition. */
const nodes = (): DefinitionNode[] => nodesBelow(rootOf(partitionReaderMachine));

/**
 * A reader under a parent that records what it reports, with a `readerIo` the test answers by
 * hand: `requests` holds what the reader asked of it, `answer` sends it a `readerIo.*` event.
 */
function harness(clock?: SimulatedClock) {
  const requests: ReaderIoRequest[] = [];
  const reported: Array<ReaderAckedEvent | ReaderDrainingEvent> = [];
  let sendBack: ((event: ReaderIoEvent) => void) | undefined;
  const reader = partitionReaderMachine.provide({
    actors: {
      readerIo: fromCallback<ReaderIoRequest, ReaderIoInput>(({ receive, sendBack: back }) => {
        sendBack = back as (event: ReaderIoEvent) => void;
        receive((request) => requests.push(request));
      }),
    },
  });
  const parent = setup({
    types: { events: {} as ReaderAckedEvent | ReaderDrainingEvent },
    actors: { reader },
  }).createMachine({
    invoke: { id: "reader", src: "reader", input: { vertex: "v", partition: 0, readBatchSize: 10, readTimeoutMs: 10 } },
    on: {
      "reader.acked": { actions: ({ event }) => reported.push(event) },
      "reader.draining": { actions: ({ event }) => reported.push(event) },
    },
  });
  const steps: Array<{ event: string; transitions: readonly StepTransition[] }> = [];
  const inspect = microstepsOf("partitionReader", (event, transitions) => steps.push({ event: event.type, transitions }));
  const actor = createActor(parent, clock === undefined ? { inspect } : { inspect, clock }).start();
  const child = actor.getSnapshot().children["reader"] as AnyActorRef;
  return {
    requests,
    reported,
    steps,
    child,
    value: () => JSON.stringify(child.getSnapshot().value),
    answer: (event: ReaderIoEvent) => sendBack!(event),
    acks: () => requests.filter((request) => request.type === "reader.ack").map((request) => (request.type === "reader.ack" ? request.input.epoch : -1)),
    stop: () => actor.stop(),
  };
}

const sealed = (epoch: number, offsets: readonly string[]) => ({ type: "batcher.sealed", partition: 0, epoch, offsets }) as const;
const commit = (epoch: number) => ({ type: "supervisor.commit", epoch }) as const;

// Issue 12, session 9: the reader was a parallel machine (a fetch region beside a commit region),
// and of its three steps per partition-epoch two went from state to state (commit.idle → acking →
// idle) with an eventless check in `idle` after every event. Each costs XState a good part of the
// step. The ack in flight is now the reader's context while it reads: all three steps are
// targetless, one microstep each, in a machine with no parallel state.
describe("partition reader: the steps of a partition-epoch, flat", () => {
  it("has no parallel state, and no eventless transition but backingOff's", () => {
    const all = nodes();
    expect(all.filter((node) => node.type === "parallel").map((node) => node.id)).toEqual([]);
    expect(all.filter((node) => (node.always ?? []).length > 0).map((node) => node.id)).toEqual(["partitionReader.active.fetch.backingOff"]);
    // DESIGN §2's states are all still there (handingOff: docs/design-notes.md, issue 12).
    const names = new Set(all.map((node) => node.id.split(".").pop()));
    for (const state of ["reading", "awaitingCommit", "acking", "draining", "stopped", "failed"]) expect(names).toContain(state);
  });

  // An `and([…])` guard builds its evaluation closure and arguments on every row it is tried, and a
  // read's answer tried up to nine of them (step-cost: ~1 KB of a 10 KB step).
  it("decides a read's answer, a seal, a commit and an ack without combined (and) guards", () => {
    const hot: Array<[string, string]> = [
      ["partitionReader.active.fetch.reading", "readerIo.batch"],
      ["partitionReader.active.fetch.reading", "batcher.sealed"],
      ["partitionReader.active", "supervisor.commit"],
      ["partitionReader.active", "readerIo.acked"],
    ];
    const combined: string[] = [];
    for (const [id, event] of hot) {
      const node = nodes().find((candidate) => candidate.id === id) as unknown as { transitions: Map<string, ReadonlyArray<{ guard?: unknown }>> };
      const transitions = node.transitions.get(event) ?? [];
      expect(transitions.length).toBeGreaterThan(0);
      for (const { guard } of transitions) if (typeof guard === "function" && "guards" in guard) combined.push(`${id} on ${event}`);
    }
    expect(combined).toEqual([]);
  });

  it("takes a seal, its commit and its ack in one targetless microstep each while reading", () => {
    const reader = harness();
    const reading = reader.value();
    const before = reader.steps.length;
    reader.child.send(sealed(1, ["1-0", "1-1"]));
    reader.child.send(commit(1));
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    const taken = reader.steps.slice(before);
    expect(taken.map((step) => step.event)).toEqual(["batcher.sealed", "supervisor.commit", "readerIo.acked"]);
    for (const step of taken) {
      expect(step.transitions).toHaveLength(1);
      expect(step.transitions[0]!.target).toBeUndefined();
    }
    expect(reader.value()).toBe(reading);
    expect(reader.acks()).toEqual([1]);
    expect(reader.reported).toEqual([{ type: "reader.acked", partition: 0, epoch: 1, count: 2 }]);
    reader.stop();
  });

  it("acks an epoch whose commit came before its seal when the seal comes", () => {
    const reader = harness();
    reader.child.send(commit(1));
    expect(reader.acks()).toEqual([]);
    reader.child.send(sealed(1, ["1-0"]));
    expect(reader.acks()).toEqual([1]);
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    expect(reader.reported.map((event) => event.type === "reader.acked" && event.epoch)).toEqual([1]);
    reader.stop();
  });

  it("acks the next queued commit in the step that finishes the ack before it", () => {
    const reader = harness();
    reader.child.send(sealed(1, ["1-0"]));
    reader.child.send(sealed(2, ["2-0"]));
    reader.child.send(commit(1));
    reader.child.send(commit(2));
    expect(reader.acks()).toEqual([1]);
    const before = reader.steps.length;
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    expect(reader.steps.length - before).toBe(1);
    expect(reader.acks()).toEqual([1, 2]);
    reader.answer({ type: "readerIo.acked", epoch: 2 });
    expect(reader.reported.map((event) => event.type === "reader.acked" && event.epoch)).toEqual([1, 2]);
    reader.stop();
  });

  it("completes the empty epochs queued behind an ack in order once it is done, without acking them", () => {
    const reader = harness();
    reader.child.send(sealed(1, ["1-0"]));
    reader.child.send(sealed(2, []));
    reader.child.send(sealed(3, []));
    reader.child.send(sealed(4, ["4-0"]));
    for (const epoch of [1, 2, 3, 4]) reader.child.send(commit(epoch));
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    expect(reader.reported.map((event) => event.type === "reader.acked" && event.epoch)).toEqual([1, 2, 3]);
    expect(reader.acks()).toEqual([1, 4]);
    reader.answer({ type: "readerIo.acked", epoch: 4 });
    expect(reader.reported.map((event) => event.type === "reader.acked" && event.epoch)).toEqual([1, 2, 3, 4]);
    reader.stop();
  });

  it("retries a failed ack after its backoff, and acks the commits queued meanwhile after it", () => {
    const clock = new SimulatedClock();
    const reader = harness(clock);
    reader.child.send(sealed(1, ["1-0"]));
    reader.child.send(sealed(2, ["2-0"]));
    reader.child.send(commit(1));
    reader.answer({ type: "readerIo.ackFailed", epoch: 1, error: new Error("connection reset") });
    reader.child.send(commit(2));
    expect(reader.acks()).toEqual([1]);
    clock.increment(49);
    expect(reader.acks()).toEqual([1]);
    clock.increment(1);
    expect(reader.acks()).toEqual([1, 1]);
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    expect(reader.acks()).toEqual([1, 1, 2]);
    reader.answer({ type: "readerIo.acked", epoch: 2 });
    expect(reader.reported.map((event) => event.type === "reader.acked" && event.epoch)).toEqual([1, 2]);
    reader.stop();
  });

  it("is in acking while draining with an ack outstanding, and reports the drain once", () => {
    const reader = harness();
    reader.child.send(sealed(1, ["1-0"]));
    reader.child.send(sealed(2, ["2-0"]));
    reader.child.send(commit(1));
    reader.child.send({ type: "supervisor.drain" });
    expect(reader.requests.map((request) => request.type)).toContain("reader.pause");
    // The grant's last answer: the drain is reported, with the ack of epoch 1 still outstanding.
    reader.answer({ type: "readerIo.batch", entries: [], endOfStream: false, done: true });
    expect(reader.child.getSnapshot().matches({ active: { fetch: { draining: "acking" } } })).toBe(true);
    reader.answer({ type: "readerIo.acked", epoch: 1 });
    expect(reader.child.getSnapshot().matches({ active: { fetch: { draining: "acking" } } })).toBe(false);
    expect(reader.child.getSnapshot().matches({ active: { fetch: "draining" } })).toBe(true);
    reader.child.send(commit(2));
    expect(reader.child.getSnapshot().matches({ active: { fetch: { draining: "acking" } } })).toBe(true);
    reader.answer({ type: "readerIo.acked", epoch: 2 });
    expect(reader.child.getSnapshot().matches({ active: { fetch: { draining: "acking" } } })).toBe(false);
    expect(reader.reported.map((event) => (event.type === "reader.acked" ? event.epoch : event.type))).toEqual(["reader.draining", 1, 2]);
    reader.stop();
  });
});
