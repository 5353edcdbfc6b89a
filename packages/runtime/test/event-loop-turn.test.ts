/**
 * eventLoopTurn (pipeline/event-loop-turn.ts): every read yields to the event loop once, and the
 * reads that ask within the same turn share one immediate (issue 12: one per read before).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { eventLoopTurn } from "../src/pipeline/event-loop-turn.js";

describe("eventLoopTurn", () => {
  afterEach(() => vi.restoreAllMocks());

  it("gives every caller of the same turn one shared immediate, and a later caller the next turn", async () => {
    const immediates = vi.spyOn(globalThis, "setImmediate");
    const turns = Array.from({ length: 8 }, () => eventLoopTurn());
    expect(immediates).toHaveBeenCalledTimes(1);
    await Promise.all(turns);
    await eventLoopTurn();
    expect(immediates).toHaveBeenCalledTimes(2);
  });

  it("resumes its callers only after the event loop's check phase: an immediate queued before the call runs first", async () => {
    const order: string[] = [];
    setImmediate(() => order.push("immediate queued before"));
    const first = eventLoopTurn().then(() => order.push("first caller"));
    const second = eventLoopTurn().then(() => order.push("second caller"));
    await Promise.all([first, second]);
    expect(order).toEqual(["immediate queued before", "first caller", "second caller"]);
  });

  it("a turn scheduled on fake timers that never ran does not hold back the callers after real timers are back", async () => {
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    const stuck = eventLoopTurn();
    vi.useRealTimers();
    await eventLoopTurn();
    // The fake immediate never ran: its caller still waits, as it did with an immediate of its own.
    expect(await Promise.race([stuck.then(() => "resumed"), Promise.resolve("waiting")])).toBe("waiting");
  });

  it("a caller that asks while the turn resolves waits for the next one", async () => {
    const order: string[] = [];
    const late = eventLoopTurn().then(() => {
      setImmediate(() => order.push("immediate queued by the first caller"));
      return eventLoopTurn().then(() => order.push("late caller"));
    });
    await late;
    expect(order).toEqual(["immediate queued by the first caller", "late caller"]);
  });
});
