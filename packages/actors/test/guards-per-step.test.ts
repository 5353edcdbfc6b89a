/**
 * Issue 12, session 9: every guard XState evaluates on a step is a call with its own arguments
 * object (and, through `assertEvent`, an array and a closure). The hot steps are decided by the
 * guard that names them, checked first: a hand-over by at most two, an epoch's EOT and its all-ok
 * answer by one. The rarer cases (foreign, stale or bad frames; a first hand-over) are still
 * checked, after it, in the order they were.
 */
import { describe, expect, it } from "vitest";
import { createActor, fromCallback, setup, type AnyActorRef, type AnyStateMachine, type EventObject } from "xstate";
import { batcherMachine, defaultRetryPolicy, sinkSessionMachine, type ReadEntry, type SinkWriterInput, type SinkWriterRequest } from "@weir/actors";
import { message } from "./support/messages.js";

type Guard = (args: unknown, params: unknown) => boolean;

/** `machine` with each named guard wrapped to record its name when XState evaluates it. */
function countingGuards<M extends AnyStateMachine>(machine: M): { machine: M; calls: string[] } {
  const calls: string[] = [];
  const named = machine.implementations.guards as Record<string, Guard>;
  const guards = Object.fromEntries(
    Object.entries(named).map(([name, guard]) => [name, (args: unknown, params: unknown) => (calls.push(name), guard(args, params))]),
  );
  return { machine: machine.provide({ guards } as never) as M, calls };
}

/** `child` run inside a parent that records what it sends up (its reports need a parent). */
function startChild(child: AnyStateMachine, input: unknown) {
  const reports: EventObject[] = [];
  const parent = setup({ actors: { child } }).createMachine({
    invoke: { src: "child", id: "child", input: input as never },
    on: { "*": { actions: ({ event }) => void reports.push(event) } },
  });
  const actor = createActor(parent).start();
  const ref = actor.getSnapshot().children["child"] as AnyActorRef;
  return { ref, reports, state: () => (ref.getSnapshot() as { value: unknown }).value };
}

/** The guards evaluated while `ref` takes `event`. */
function guardsOf(calls: string[], ref: AnyActorRef, event: EventObject): string[] {
  const before = calls.length;
  ref.send(event);
  return calls.slice(before);
}

describe("guards per hot step", () => {
  const entries = (from: number, count: number): ReadEntry[] =>
    Array.from({ length: count }, (_, i) => ({ offset: String(from + i), message: message(`m${from + i}`) }));
  const handOver = (from: number, count: number) => ({ type: "reader.batchRead", partition: 0, entries: entries(from, count) });

  it("batcher: a hand-over is decided by at most two guards, the same reports as before", () => {
    const { machine, calls } = countingGuards(batcherMachine);
    const b = startChild(machine, { vertex: "v", partition: 0, readBatchSize: 10 });
    expect(guardsOf(calls, b.ref, handOver(1, 3)).length).toBeLessThanOrEqual(2);
    expect(guardsOf(calls, b.ref, handOver(4, 3)).length).toBeLessThanOrEqual(2);
    expect(guardsOf(calls, b.ref, handOver(7, 4)).length).toBeLessThanOrEqual(2);
    expect(guardsOf(calls, b.ref, handOver(11, 2)).length).toBeLessThanOrEqual(2);
    expect(b.reports.map((e) => e.type)).toEqual(["batcher.filling", "batcher.full"]);
    b.ref.send({ type: "supervisor.closeEpoch", epoch: 1 });
    // The first hand-over of the next epoch fills it at once: `full` alone.
    expect(guardsOf(calls, b.ref, handOver(13, 10)).length).toBeLessThanOrEqual(2);
    expect(b.reports.map((e) => e.type)).toEqual(["batcher.filling", "batcher.full", "batcher.full"]);
  });

  it("sink session: an epoch's EOT and its all-ok answer are each decided by one guard", () => {
    const requests: SinkWriterRequest[] = [];
    const sinkWriter = fromCallback<SinkWriterRequest, SinkWriterInput>(({ receive }) => receive((request) => void requests.push(request)));
    const { machine, calls } = countingGuards(sinkSessionMachine.provide({ actors: { sinkWriter } }));
    const s = startChild(machine, { vertex: "v", partition: 0, retry: defaultRetryPolicy, resultTimeoutMs: 30_000 });
    // Landing in `eotReceived`, the session also checks its inbox for an epoch that became ready
    // during the attempt (pipelined epochs): that eventless check is not the answer's decision.
    const inboxChecks = new Set(["hasEmptyReadyEpoch", "hasReadyEpoch"]);
    const decisionOf = (event: EventObject) => guardsOf(calls, s.ref, event).filter((name) => !inboxChecks.has(name));
    for (const epoch of [1, 2]) {
      const messages = [message(`a${epoch}`), message(`b${epoch}`)];
      expect(decisionOf({ type: "batcher.eot", partition: 0, epoch, count: 2, messages } as EventObject)).toHaveLength(1);
      expect(s.state()).toEqual("writing");
      expect(decisionOf({ type: "sinkIo.allOk", partition: 0, epoch, attempt: 1 } as EventObject)).toHaveLength(1);
      expect(s.state()).toBe("eotReceived");
    }
    expect(requests.map((r) => r.type)).toEqual(["sinkWriter.write", "sinkWriter.write"]);
    expect(s.reports.map((e) => [e.type, (e as unknown as { epoch: number }).epoch])).toEqual([
      ["sink.epochDone", 1],
      ["sink.epochDone", 2],
    ]);
  });
});
