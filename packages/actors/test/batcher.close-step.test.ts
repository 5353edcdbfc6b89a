/**
 * Issue 12, session 9: a close was two microsteps — `collecting → flushing`, whose entry sent the
 * frames, then an eventless `flushing → eotSent` (~7.6 KB and a few µs of XState's snapshot work
 * per partition-epoch). It is one now, wherever it comes: into `flushing` when the epoch collected
 * something, into `eotSent` (or staying there) when its EOT goes out alone. The frames, their
 * order and their counts are unchanged.
 */
import { describe, expect, it } from "vitest";
import { createActor, fromCallback, setup, type AnyActorRef, type EventObject } from "xstate";
import { actorIds, batcherMachine, type ReadEntry } from "@weir/actors";
import { message } from "./support/messages.js";
import { microstepsOf } from "./support/microsteps.js";

interface Microstep {
  readonly event: string;
  readonly value: unknown;
}

/** A batcher with a stand-in reader and sink session (by their system ids) recording what it sends. */
function startBatcher() {
  const frames: EventObject[] = [];
  const steps: Microstep[] = [];
  const recorder = fromCallback(({ receive }) => receive((event) => void frames.push(event)));
  const parent = setup({ actors: { batcher: batcherMachine, recorder } }).createMachine({
    invoke: [
      { src: "recorder", systemId: actorIds.sinkSession("v", 0) },
      { src: "recorder", systemId: actorIds.reader("v", 0) },
      { src: "batcher", id: "batcher", input: { vertex: "v", partition: 0, readBatchSize: 10 } },
    ],
  });
  const inspect = microstepsOf("batcher", (_, transitions, { value }) => steps.push({ event: transitions[0]?.eventType ?? "?", value }));
  const actor = createActor(parent, { inspect }).start();
  const batcher = actor.getSnapshot().children["batcher"] as AnyActorRef;
  let next = 0;
  const handOver = (count: number) => {
    const entries: ReadEntry[] = Array.from({ length: count }, () => ({ offset: String(++next), message: message(`m${next}`) }));
    batcher.send({ type: "reader.batchRead", partition: 0, entries });
  };
  const closeEpoch = (epoch: number) => batcher.send({ type: "supervisor.closeEpoch", epoch });
  return { frames, steps, handOver, closeEpoch };
}

const summary = (frame: EventObject) => {
  const f = frame as unknown as { type: string; epoch: number; count?: number; offsets?: readonly string[]; messages?: readonly unknown[] };
  return f.type === "batcher.eot" ? [f.type, f.epoch, f.count, f.messages?.length ?? 0] : [f.type, f.epoch, f.offsets?.length];
};

describe("batcher: a close is one step", () => {
  it("closes an epoch with data into flushing, an empty one into eotSent, in one microstep each", () => {
    const b = startBatcher();
    b.handOver(3);
    b.handOver(2);
    b.closeEpoch(1);
    b.closeEpoch(2);
    b.closeEpoch(3);
    b.handOver(4);
    b.closeEpoch(4);
    expect(b.steps).toEqual([
      { event: "reader.batchRead", value: "collecting" },
      { event: "reader.batchRead", value: "collecting" },
      { event: "supervisor.closeEpoch", value: "flushing" },
      { event: "supervisor.closeEpoch", value: "eotSent" },
      { event: "supervisor.closeEpoch", value: "eotSent" },
      { event: "reader.batchRead", value: "collecting" },
      { event: "supervisor.closeEpoch", value: "flushing" },
    ]);
    // EOT to the sink session, then SEALED to the reader, per close; counts exact, nothing lost.
    expect(b.frames.map(summary)).toEqual([
      ["batcher.eot", 1, 5, 5],
      ["batcher.sealed", 1, 5],
      ["batcher.eot", 2, 0, 0],
      ["batcher.sealed", 2, 0],
      ["batcher.eot", 3, 0, 0],
      ["batcher.sealed", 3, 0],
      ["batcher.eot", 4, 4, 4],
      ["batcher.sealed", 4, 4],
    ]);
  });

  it("has no eventless transition", () => {
    const states = batcherMachine.root.states as Record<string, { always?: readonly unknown[] }>;
    expect(Object.entries(states).filter(([, node]) => (node.always ?? []).length > 0).map(([name]) => name)).toEqual([]);
  });
});
