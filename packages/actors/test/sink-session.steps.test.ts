/**
 * Issue 12: an epoch's answer decides where the session goes on its own transition. An epoch
 * answered all-ok is two sink-session steps — the EOT that starts its attempt and the answer that
 * completes it — and the session then rests in `eotReceived` (DESIGN §2's state, entered by every
 * epoch whose every message is final) until the next EOT. Before, the answer went to `eotReceived`
 * and an eventless step took the session on to `idle`, and an end-of-results took two eventless
 * steps (to `eotReceived`, then to its decision).
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "xstate";
import { message } from "./support/messages.js";
import { microstepsOf } from "./support/microsteps.js";
import { PARTITION, frame, oks, startSinkSession } from "./support/sink-session-harness.js";

interface Step {
  readonly event: string;
  readonly value: unknown;
}

/** The session's microsteps, as `[event type ("" for an eventless step), state value after it]`. */
function recordSteps() {
  const steps: Step[] = [];
  const inspect = microstepsOf("sinkSession", (_, transitions, { value }) => steps.push({ event: transitions[0]?.eventType ?? "?", value }));
  return { steps, inspect };
}

const eot = (epoch: number, ids: readonly string[]) =>
  ({ type: "batcher.eot", partition: PARTITION, epoch, count: ids.length, messages: ids.map(message) }) as const;

describe("sink session: an answer's step decides, and the session rests in eotReceived", () => {
  it("an epoch answered all-ok takes two steps and no eventless one", () => {
    const { steps, inspect } = recordSteps();
    const s = startSinkSession({ reportsSent: false, inspect });
    s.session.send(eot(1, ["a", "b"]));
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(steps).toEqual([
      { event: "batcher.eot", value: "writing" },
      { event: "sinkIo.allOk", value: "eotReceived" },
    ]);
    expect(s.epochsDone()).toEqual([
      { type: "sink.epochDone", partition: PARTITION, epoch: 1, tallies: { messages: 2, ok: 2, fallback: 0, dropped: 0, retries: 0 } },
    ]);
    s.stop();
  });

  it("from eotReceived, the next EOT starts its attempt and a count-0 EOT completes at once", () => {
    const { steps, inspect } = recordSteps();
    const s = startSinkSession({ reportsSent: false, inspect });
    s.session.send(eot(1, ["a"]));
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    s.session.send(eot(2, []));
    expect(s.state()).toBe("eotReceived");
    s.session.send(eot(3, ["b"]));
    expect(s.attempts.map((a) => [a.input.epoch, a.input.messages.map((m) => m.id)])).toEqual([
      [1, ["a"]],
      [3, ["b"]],
    ]);
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(3, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok])).toEqual([
      [1, 1],
      [2, 0],
      [3, 1],
    ]);
    expect(steps.filter((step) => step.event === "")).toEqual([]);
    s.stop();
  });

  it("an end-of-results with a failure goes to retrying in its own step; the retry's end-of-results completes the epoch", () => {
    const { steps, inspect } = recordSteps();
    const s = startSinkSession({ reportsSent: false, inspect });
    s.session.send(eot(1, ["a", "b"]));
    s.attempts[0]!.send({ type: "sinkIo.results", ...frame(1, 1), results: [{ id: "a", status: "ok" }, { id: "b", status: "failure", error: "no" }] });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
    expect(steps.map((step) => [step.event, step.value])).toEqual([
      ["batcher.eot", "writing"],
      ["sinkIo.results", "writing"],
      ["sinkIo.endOfResults", "retrying"],
    ]);
    s.clock.increment(10);
    expect(s.attempts[1]!.input).toMatchObject({ epoch: 1, attempt: 2 });
    expect(s.attempts[1]!.input.messages.map((m) => m.id)).toEqual(["b"]);
    s.attempts[1]!.send({ type: "sinkIo.results", ...frame(1, 2), results: oks(["b"]) });
    s.attempts[1]!.send({ type: "sinkIo.endOfResults", ...frame(1, 2) });
    expect(steps.at(-1)).toEqual({ event: "sinkIo.endOfResults", value: "eotReceived" });
    expect(s.epochsDone().map((e) => e.tallies)).toEqual([{ messages: 2, ok: 2, fallback: 0, dropped: 0, retries: 1 }]);
    s.stop();
  });

  it("an epoch whose retries are spent ends in eotReceived too: dropped, or through the fallback sink", async () => {
    for (const onFailure of ["drop", "fallback"] as const) {
      const s = startSinkSession({ reportsSent: false, onFailure });
      s.session.send(eot(1, ["a"]));
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        s.attempts[attempt - 1]!.send({ type: "sinkIo.results", ...frame(1, attempt), results: [{ id: "a", status: "failure", error: "no" }] });
        s.attempts[attempt - 1]!.send({ type: "sinkIo.endOfResults", ...frame(1, attempt) });
        s.clock.increment(1_000);
      }
      expect(s.attempts).toHaveLength(3);
      await waitFor(s.session, () => s.epochsDone().length > 0);
      expect(s.epochsDone().map((e) => [e.tallies.dropped, e.tallies.fallback])).toEqual([onFailure === "drop" ? [1, 0] : [0, 1]]);
      expect(s.state()).toBe("eotReceived");
      s.stop();
    }
  });

  it("an all-ok answer after a fallback answer of an earlier attempt goes on to the fallback sink", async () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send(eot(1, ["a", "b"]));
    s.attempts[0]!.send({ type: "sinkIo.results", ...frame(1, 1), results: [{ id: "a", status: "fallback", reason: "poison" }, { id: "b", status: "failure", error: "no" }] });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
    s.clock.increment(10);
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(1, 2) });
    expect(s.state()).toBe("fallingBack");
    await waitFor(s.session, () => s.epochsDone().length > 0);
    expect(s.epochsDone().map((e) => e.tallies)).toEqual([{ messages: 2, ok: 1, fallback: 1, dropped: 0, retries: 1 }]);
    expect(s.state()).toBe("eotReceived");
    s.stop();
  });
});
