/**
 * The context `sinkFunctionAttempt` gives a sink function: the attempt's coordinates and a signal
 * that is created only when read, aborted when the session gives up on the attempt before the sink
 * answered (also when read after that), and left alone once the sink answered. Issue 12, session
 * 10 moved the context from an object literal with a getter to a class (the literal's getter
 * closure kept every attempt's messages alive through scavenges); this pins that nothing else
 * changed.
 */
import { describe, expect, it } from "vitest";
import { sinkFunctionAttempt, type Message, type SinkContext, type SinkIoEvent, type SinkWriteInput } from "@weir/actors";
import { message } from "./support/messages.js";

const input: SinkWriteInput = { vertex: "out", partition: 2, epoch: 7, attempt: 3, messages: [message("a"), message("b")] };

/** Starts one attempt whose sink answers only when the test says so. */
function startAttempt() {
  let context: SinkContext | undefined;
  let answer: () => void = () => undefined;
  const frames: SinkIoEvent[] = [];
  const attempt = sinkFunctionAttempt(
    (messages: readonly Message[], given: SinkContext) =>
      new Promise((resolve) => {
        context = given;
        answer = () => resolve(messages.map((m) => ({ id: m.id, status: "ok" as const })));
      }),
  );
  const dispose = attempt(input, (event) => frames.push(event));
  const started = async () => {
    await waitUntil(() => context !== undefined);
    return context!;
  };
  return { started, answer: () => answer(), dispose: () => dispose?.(), frames };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe("sinkFunctionAttempt: the sink context", () => {
  it("carries the attempt's vertex, partition, epoch and attempt", async () => {
    const run = startAttempt();
    const context = await run.started();
    expect({ vertex: context.vertex, partition: context.partition, epoch: context.epoch, attempt: context.attempt }).toEqual({
      vertex: "out",
      partition: 2,
      epoch: 7,
      attempt: 3,
    });
  });

  it("aborts the signal when the session gives up before the sink answered", async () => {
    const run = startAttempt();
    const context = await run.started();
    const signal = context.signal;
    expect(signal.aborted).toBe(false);
    run.dispose();
    expect(signal.aborted).toBe(true);
  });

  it("hands out an aborted signal when it is first read after the session gave up", async () => {
    const run = startAttempt();
    const context = await run.started();
    run.dispose();
    expect(context.signal.aborted).toBe(true);
  });

  it("leaves the signal alone once the sink answered", async () => {
    const run = startAttempt();
    const context = await run.started();
    run.answer();
    await waitUntil(() => run.frames.length > 0);
    run.dispose();
    expect(run.frames.map((frame) => frame.type)).toEqual(["sinkIo.allOk"]);
    expect(context.signal.aborted).toBe(false);
  });
});
