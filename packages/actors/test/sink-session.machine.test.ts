/**
 * The sink session machine through its behaviour (`provide` + `SimulatedClock`): frames of
 * another partition never complete its epoch (I2), a silent sink times out and is redriven,
 * an idle partition's EOT completes at once (I3).
 */
import { describe, expect, it } from "vitest";
import { PARTITION, frame, oks, startSinkSession } from "./support/sink-session-harness.js";

/** The writer reports `sinkIo.sent` at once: each attempt goes straight to awaiting its results. */
const startSession = () => startSinkSession({ reportsSent: true });

describe("sink session: frames of another partition (I2)", () => {
  it("refuses another partition's DATA and EOT: reported, never written, never completing an epoch", () => {
    const s = startSession();
    s.deliverEpoch(2, 5, ["p2-a", "p2-b"]);
    expect(s.protocolErrors().map((e) => [e.partition, e.code])).toEqual([
      [PARTITION, "WRONG_PARTITION"],
      [PARTITION, "WRONG_PARTITION"],
    ]);
    expect(s.attempts).toEqual([]);
    expect(s.epochsDone()).toEqual([]);
    expect(s.state()).toBe("idle");
    // Its own epoch of the same number is untouched by the foreign frames.
    s.deliverEpoch(PARTITION, 5, ["p1-a"]);
    expect(s.attempts.map((a) => a.input.messages.map((m) => m.id))).toEqual([["p1-a"]]);
    s.stop();
  });

  it("refuses results and end-of-results labelled with another partition, even for its own ids", () => {
    const s = startSession();
    const ids = ["p1-a", "p1-b", "p1-c"];
    s.deliverEpoch(PARTITION, 4, ids);
    const first = s.attempts[0]!;
    // numaflow#2516's shape: another partition's frames arrive on this session's stream.
    first.send({ type: "sinkIo.results", ...frame(4, 1, 2), results: oks(ids) });
    first.send({ type: "sinkIo.endOfResults", ...frame(4, 1, 2) });
    expect(s.protocolErrors().map((e) => [e.partition, e.epoch, e.code])).toEqual([
      [PARTITION, 4, "WRONG_PARTITION"],
      [PARTITION, 4, "WRONG_PARTITION"],
    ]);
    expect(s.epochsDone()).toEqual([]);
    // Nothing of the foreign frames was merged: the session still waits for its own answers.
    first.send({ type: "sinkIo.results", ...frame(4, 1), results: oks(ids.slice(0, 2)) });
    first.send({ type: "sinkIo.endOfResults", ...frame(4, 1) });
    expect(s.protocolErrors().at(-1)?.code).toBe("EARLY_END_OF_RESULTS");
    s.clock.increment(50);
    const redrive = s.attempts[1]!;
    expect(redrive.input.messages.map((m) => m.id)).toEqual(["p1-c"]);
    redrive.send({ type: "sinkIo.results", ...frame(4, 2), results: oks(["p1-c"]) });
    redrive.send({ type: "sinkIo.endOfResults", ...frame(4, 2) });
    expect(s.epochsDone()).toEqual([
      { type: "sink.epochDone", partition: PARTITION, epoch: 4, tallies: { messages: 3, ok: 3, fallback: 0, dropped: 0, retries: 1 } },
    ]);
    s.stop();
  });

  it("another partition's end-of-results never completes an epoch, even one holding all its results", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 2, ["p1-a"]);
    const first = s.attempts[0]!;
    first.send({ type: "sinkIo.results", ...frame(2, 1), results: oks(["p1-a"]) });
    first.send({ type: "sinkIo.endOfResults", ...frame(2, 1, 0) });
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["WRONG_PARTITION"]);
    expect(s.epochsDone()).toEqual([]);
    expect(s.state()).toEqual("awaitingResults");
    // Its own end-of-results completes it, on the first attempt.
    first.send({ type: "sinkIo.endOfResults", ...frame(2, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok, e.tallies.retries])).toEqual([[2, 1, 0]]);
    s.stop();
  });

  it("a late end-of-results of an earlier epoch is reported and dropped, never ending the next epoch's attempt", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 6, ["p1-x"]);
    const attempt = s.attempts[0]!;
    attempt.send({ type: "sinkIo.endOfResults", ...frame(5, 1) });
    expect(s.protocolErrors().map((e) => [e.epoch, e.code])).toEqual([[5, "WRONG_EPOCH"]]);
    expect(s.state()).toEqual("awaitingResults");
    attempt.send({ type: "sinkIo.results", ...frame(6, 1), results: oks(["p1-x"]) });
    attempt.send({ type: "sinkIo.endOfResults", ...frame(6, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.retries])).toEqual([[6, 0]]);
    expect(s.attempts).toHaveLength(1);
    s.stop();
  });
});

describe("sink session: a sink that never answers", () => {
  it("RESULT_TIMEOUT after resultTimeoutMs, then a redrive of the same messages as attempt 2", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 1, ["p1-a", "p1-b"]);
    s.clock.increment(99);
    expect(s.protocolErrors()).toEqual([]);
    s.clock.increment(1);
    expect(s.protocolErrors().map((e) => [e.code, e.epoch, e.attempt])).toEqual([["RESULT_TIMEOUT", 1, 1]]);
    s.clock.increment(10);
    expect(s.attempts.map((a) => [a.input.attempt, a.input.messages.length])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    // A straggler of the abandoned attempt is dropped, not merged and not reported.
    s.attempts[1]!.send({ type: "sinkIo.results", ...frame(1, 1), results: oks(["p1-a"]) });
    expect(s.protocolErrors()).toHaveLength(1);
    s.stop();
  });
});

describe("sink session: an idle partition (I3)", () => {
  it("completes an EOT with count 0 at once, without a write", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 3, []);
    expect(s.epochsDone()).toEqual([
      { type: "sink.epochDone", partition: PARTITION, epoch: 3, tallies: { messages: 0, ok: 0, fallback: 0, dropped: 0, retries: 0 } },
    ]);
    expect(s.attempts).toEqual([]);
    expect(s.state()).toBe("idle");
    s.stop();
  });

  it("completes epochs in order: an empty epoch queued behind a busy one waits its turn", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 1, ["p1-a"]);
    s.deliverEpoch(PARTITION, 2, []);
    expect(s.epochsDone()).toEqual([]);
    s.attempts[0]!.send({ type: "sinkIo.results", ...frame(1, 1), results: oks(["p1-a"]) });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
    expect(s.epochsDone().map((e) => e.epoch)).toEqual([1, 2]);
    s.stop();
  });
});
