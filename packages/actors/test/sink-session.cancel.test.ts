/**
 * When the session tells its writer to abort an attempt (`sinkWriter.cancel`): only when it leaves
 * the attempt before the attempt's own final frame — a result timeout, a protocol error found in a
 * results frame or in another attempt's frame. After the attempt's own all-ok, end-of-results or
 * crash frame the writer has ended the attempt itself, and no cancel is sent. (Issue 12 moved the
 * cancel from the attempt's exit onto those transitions; this pins that nothing else changed.)
 */
import { describe, expect, it } from "vitest";
import { createActor, fromCallback, fromPromise, setup, SimulatedClock, type AnyActorRef } from "xstate";
import { defaultRetryPolicy, sinkSessionMachine, type FallbackWriteInput, type SinkIoEvent, type SinkWriterInput, type SinkWriterRequest } from "@weir/actors";
import { message } from "./support/messages.js";
import { PARTITION, frame, oks } from "./support/sink-session-harness.js";

/** A session whose writer records every request and lets the test answer for the session's attempts. */
function startRecordedSession() {
  const clock = new SimulatedClock();
  const requests: string[] = [];
  let answer: (event: SinkIoEvent) => void = () => undefined;
  const sinkWriter = fromCallback<SinkWriterRequest, SinkWriterInput>(({ receive, sendBack }) => {
    answer = sendBack;
    receive((request) => {
      requests.push(request.type === "sinkWriter.write" ? `write ${request.input.epoch}/${request.input.attempt}` : `cancel ${request.epoch}/${request.attempt}`);
    });
  });
  const fallbackWriter = fromPromise<void, FallbackWriteInput>(async () => undefined);
  const parent = setup({ actors: { session: sinkSessionMachine.provide({ actors: { sinkWriter, fallbackWriter } }) } }).createMachine({
    invoke: {
      id: "session",
      src: "session",
      input: { vertex: "v", partition: PARTITION, retry: { ...defaultRetryPolicy, intervalMs: 10, steps: 3, onFailure: "retry" }, resultTimeoutMs: 100 },
    },
  });
  const actor = createActor(parent, { clock }).start();
  const session = actor.getSnapshot().children.session as AnyActorRef;
  const eot = (epoch: number, ids: readonly string[]) => session.send({ type: "batcher.eot", partition: PARTITION, epoch, count: ids.length, messages: ids.map(message) });
  return { clock, requests, eot, answer: (event: SinkIoEvent) => answer(event), stop: () => actor.stop() };
}

describe("sink session: sinkWriter.cancel", () => {
  it("is not sent after the attempt's own all-ok, end-of-results or crash frame", () => {
    const s = startRecordedSession();
    s.eot(1, ["a"]);
    s.answer({ type: "sinkIo.allOk", ...frame(1, 1) });
    s.eot(2, ["b"]);
    s.answer({ type: "sinkIo.results", ...frame(2, 1), results: oks(["b"]) });
    s.answer({ type: "sinkIo.endOfResults", ...frame(2, 1) });
    s.eot(3, ["c"]);
    s.answer({ type: "sinkIo.crashed", ...frame(3, 1), reason: "boom" });
    // An early end-of-results is a protocol error, but the attempt's own last frame all the same.
    s.clock.increment(10);
    s.answer({ type: "sinkIo.endOfResults", ...frame(3, 2) });
    expect(s.requests).toEqual(["write 1/1", "write 2/1", "write 3/1", "write 3/2"]);
    s.stop();
  });

  it("is sent when the session leaves an attempt early: a result timeout, a bad results frame, another attempt's final frame", () => {
    const s = startRecordedSession();
    s.eot(1, ["a"]);
    s.clock.increment(100);
    expect(s.requests).toEqual(["write 1/1", "cancel 1/1"]);
    s.clock.increment(10);
    s.answer({ type: "sinkIo.results", ...frame(1, 2), results: oks(["nobody"]) });
    expect(s.requests.slice(2)).toEqual(["write 1/2", "cancel 1/2"]);
    s.clock.increment(20);
    // A final frame that names a later attempt than the one in progress does not end this one.
    s.answer({ type: "sinkIo.endOfResults", ...frame(1, 4) });
    expect(s.requests.slice(4)).toEqual(["write 1/3", "cancel 1/3"]);
    s.stop();
  });
});
