/**
 * Issue 12, session 9: an attempt is two top-level states, `writing` and `awaitingResults` (DESIGN
 * §2), not one compound `attempt` around them — a step into or out of a nested state costs XState
 * twice the entry/exit work. The result timeout still covers the whole attempt: it is set with
 * the write, not restarted by `sinkIo.sent`, and cancelled on every way out of the attempt.
 */
import { describe, expect, it } from "vitest";
import type { AnyActorRef } from "xstate";
import { PARTITION, frame, oks, startSinkSession } from "./support/sink-session-harness.js";
import { message } from "./support/messages.js";

const eot = (epoch: number, ids: readonly string[]) =>
  ({ type: "batcher.eot", partition: PARTITION, epoch, count: ids.length, messages: ids.map(message) }) as const;

/** The timers the session has pending (XState's system scheduler holds every delayed event). */
function pendingTimers(session: AnyActorRef): number {
  const system = session.system as unknown as { getSnapshot(): { _scheduledEvents: Record<string, { source: AnyActorRef }> } };
  return Object.values(system.getSnapshot()._scheduledEvents).filter((scheduled) => scheduled.source === session).length;
}

describe("sink session: an attempt is the top-level states writing and awaitingResults", () => {
  it("an EOT enters writing and sinkIo.sent moves on to awaitingResults", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send(eot(1, ["a"]));
    expect(s.state()).toBe("writing");
    s.attempts[0]!.send({ type: "sinkIo.sent", ...frame(1, 1) });
    expect(s.state()).toBe("awaitingResults");
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(s.state()).toBe("eotReceived");
    s.stop();
  });

  it("the result timeout counts from the write: sinkIo.sent does not restart it", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send(eot(1, ["a"]));
    s.clock.increment(60);
    s.attempts[0]!.send({ type: "sinkIo.sent", ...frame(1, 1) });
    s.clock.increment(39);
    expect(s.protocolErrors()).toEqual([]);
    s.clock.increment(1);
    expect(s.protocolErrors().map((e) => [e.attempt, e.code])).toEqual([[1, "RESULT_TIMEOUT"]]);
    expect(s.state()).toBe("protocolError");
    s.clock.increment(10);
    expect(s.state()).toBe("writing");
    expect(s.attempts.map((a) => a.input.attempt)).toEqual([1, 2]);
    s.stop();
  });

  it("an attempt answered all-ok, from writing or from awaitingResults, leaves no timer behind", () => {
    const s = startSinkSession({ reportsSent: false });
    s.session.send(eot(1, ["a"]));
    expect(pendingTimers(s.session)).toBe(1);
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(pendingTimers(s.session)).toBe(0);
    s.session.send(eot(2, ["b"]));
    s.attempts[1]!.send({ type: "sinkIo.sent", ...frame(2, 1) });
    s.attempts[1]!.send({ type: "sinkIo.results", ...frame(2, 1), results: oks(["b"]) });
    s.attempts[1]!.send({ type: "sinkIo.endOfResults", ...frame(2, 1) });
    expect(s.state()).toBe("eotReceived");
    expect(pendingTimers(s.session)).toBe(0);
    s.clock.increment(1_000);
    expect(s.protocolErrors()).toEqual([]);
    s.stop();
  });

  it("an attempt left for a retry or a protocol error cancels its timeout: the next attempt has its own", () => {
    const s = startSinkSession({ reportsSent: true });
    s.session.send(eot(1, ["a", "b"]));
    s.attempts[0]!.send({ type: "sinkIo.results", ...frame(1, 1), results: [{ id: "a", status: "failure", error: "no" }, { id: "b", status: "ok" }] });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
    expect(s.state()).toBe("retrying");
    expect(pendingTimers(s.session)).toBe(1); // the backoff only
    s.clock.increment(10); // attempt 2
    s.attempts[1]!.send({ type: "sinkIo.results", ...frame(1, 2), results: oks(["zz"]) }); // UNKNOWN_ID
    expect(s.state()).toBe("protocolError");
    expect(pendingTimers(s.session)).toBe(1); // the backoff only
    const backoff = (s.session.getSnapshot() as { context: { work: { nextDelayMs: number } } }).context.work.nextDelayMs;
    s.clock.increment(backoff); // attempt 3, its timeout due 100 ms from now
    expect(s.attempts.map((a) => a.input.attempt)).toEqual([1, 2, 3]);
    s.clock.increment(99); // past attempt 1's and attempt 2's due times
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["UNKNOWN_ID"]);
    expect(s.state()).toBe("awaitingResults");
    s.clock.increment(1);
    expect(s.protocolErrors().map((e) => [e.attempt, e.code])).toEqual([
      [2, "UNKNOWN_ID"],
      [3, "RESULT_TIMEOUT"],
    ]);
    s.stop();
  });

  it("a stop during an attempt leaves no timer behind", () => {
    const s = startSinkSession({ reportsSent: true });
    s.session.send(eot(1, ["a"]));
    s.session.send({ type: "supervisor.stop" });
    expect(pendingTimers(s.session)).toBe(0);
    s.stop();
  });
});
