/**
 * Issue 12: the batcher sends an epoch's data on its EOT (`batcher.eot { count, messages }`), one
 * frame instead of DATA then EOT. DATA frames stay valid (DESIGN §2.1: "DATA… (zero or more), then
 * EOT"): an EOT's own messages follow those of the DATA frames before it.
 */
import { describe, expect, it } from "vitest";
import { PARTITION, oks, frame, startSinkSession } from "./support/sink-session-harness.js";
import { message } from "./support/messages.js";

const ids = (attempt: { input: { messages: readonly { id: string }[] } }) => attempt.input.messages.map((m) => m.id);

describe("sink session: an EOT that carries the epoch's data", () => {
  it("starts the attempt with the EOT's messages and completes on their results", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send({ type: "batcher.eot", partition: PARTITION, epoch: 1, count: 2, messages: [message("a"), message("b")] });
    expect(s.attempts.map(ids)).toEqual([["a", "b"]]);
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok])).toEqual([[1, 2]]);
    expect(s.state()).toBe("eotReceived");
    s.stop();
  });

  it("appends the EOT's messages to those of DATA frames before it", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send({ type: "batcher.data", partition: PARTITION, epoch: 1, messages: [message("a")] });
    s.session.send({ type: "batcher.eot", partition: PARTITION, epoch: 1, count: 3, messages: [message("b"), message("c")] });
    expect(s.attempts.map(ids)).toEqual([["a", "b", "c"]]);
    s.attempts[0]!.send({ type: "sinkIo.results", ...frame(1, 1), results: oks(["a", "b", "c"]) });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok])).toEqual([[1, 3]]);
    s.stop();
  });

  it("queues an EOT with data that arrives during another epoch's attempt, and writes it next", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send({ type: "batcher.eot", partition: PARTITION, epoch: 1, count: 1, messages: [message("a")] });
    s.session.send({ type: "batcher.eot", partition: PARTITION, epoch: 2, count: 0 });
    s.session.send({ type: "batcher.eot", partition: PARTITION, epoch: 3, count: 2, messages: [message("b"), message("c")] });
    expect(s.attempts.map(ids)).toEqual([["a"]]);
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(s.attempts.map(ids)).toEqual([["a"], ["b", "c"]]);
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(3, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.messages])).toEqual([
      [1, 1],
      [2, 0],
      [3, 2],
    ]);
    s.stop();
  });

  it("refuses another partition's EOT with data: reported, never written", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send({ type: "batcher.eot", partition: PARTITION + 1, epoch: 1, count: 1, messages: [message("x")] });
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["WRONG_PARTITION"]);
    expect(s.attempts).toEqual([]);
    s.stop();
  });
});
