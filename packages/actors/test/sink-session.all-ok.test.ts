/**
 * `sinkIo.allOk`: every message of an attempt `ok`, and the end of its results, in one frame.
 * It is judged by the same rules as `sinkIo.results` + `sinkIo.endOfResults` (docs/eot-protocol.md):
 * a foreign one is reported and dropped, a stale one ignored, one after some results of the same
 * attempt is a DUPLICATE_RESULT. `fromSinkFunction` sends it only when a sink's answer is exactly
 * one `ok` per message, in order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createActor, setup, type AnyActorRef } from "xstate";
import { fromSinkFunction, type SinkFunction, type SinkIoEvent } from "@weir/actors";
import { findViolation, isStaleFrame, recordAllOk, recordResults, settleAttempt, startEpoch } from "../src/sink-session.logic.js";
import { isAllOk } from "../src/sink-writer.js";
import { message } from "./support/messages.js";
import { PARTITION, frame, oks, startSinkSession } from "./support/sink-session-harness.js";

/** The writer never reports `sinkIo.sent`: an attempt stays `writing` until its first answer. */
const startSession = () => startSinkSession({ reportsSent: false });

describe("sink session: sinkIo.allOk", () => {
  it("completes the attempt's epoch with every message ok, on the first attempt", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 1, ["a", "b", "c"]);
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(1, 1) });
    expect(s.protocolErrors()).toEqual([]);
    expect(s.epochsDone()).toEqual([
      { type: "sink.epochDone", partition: PARTITION, epoch: 1, tallies: { messages: 3, ok: 3, fallback: 0, dropped: 0, retries: 0 } },
    ]);
    expect(s.state()).toBe("eotReceived");
    s.stop();
  });

  it("after some results of the same attempt is a DUPLICATE_RESULT: the results kept, the rest redriven", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 2, ["a", "b", "c"]);
    const first = s.attempts[0]!;
    first.send({ type: "sinkIo.results", ...frame(2, 1), results: oks(["a"]) });
    first.send({ type: "sinkIo.allOk", ...frame(2, 1) });
    expect(s.protocolErrors().map((e) => [e.epoch, e.attempt, e.code])).toEqual([[2, 1, "DUPLICATE_RESULT"]]);
    expect(s.epochsDone()).toEqual([]);
    s.clock.increment(10);
    const redrive = s.attempts[1]!;
    expect(redrive.input).toMatchObject({ epoch: 2, attempt: 2 });
    expect(redrive.input.messages.map((m) => m.id)).toEqual(["b", "c"]);
    redrive.send({ type: "sinkIo.allOk", ...frame(2, 2) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies])).toEqual([[2, { messages: 3, ok: 3, fallback: 0, dropped: 0, retries: 2 }]]);
    s.stop();
  });

  it("of another partition or epoch is reported and dropped; the attempt goes on", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 3, ["a"]);
    const attempt = s.attempts[0]!;
    attempt.send({ type: "sinkIo.allOk", ...frame(3, 1, 2) });
    attempt.send({ type: "sinkIo.allOk", ...frame(2, 1) });
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["WRONG_PARTITION", "WRONG_EPOCH"]);
    expect(s.epochsDone()).toEqual([]);
    expect(s.state()).toEqual("writing");
    attempt.send({ type: "sinkIo.allOk", ...frame(3, 1) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok, e.tallies.retries])).toEqual([[3, 1, 0]]);
    s.stop();
  });

  it("of an abandoned attempt is ignored, and one after the attempt settled is dropped silently", () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 4, ["a", "b"]);
    s.clock.increment(100); // RESULT_TIMEOUT of attempt 1
    s.clock.increment(10);
    expect(s.attempts.map((a) => a.input.attempt)).toEqual([1, 2]);
    s.attempts[0]!.send({ type: "sinkIo.allOk", ...frame(4, 1) });
    expect(s.epochsDone()).toEqual([]);
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["RESULT_TIMEOUT"]);
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(4, 2) });
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(4, 2) });
    expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok, e.tallies.retries])).toEqual([[4, 2, 2]]);
    expect(s.protocolErrors().map((e) => e.code)).toEqual(["RESULT_TIMEOUT"]);
    s.stop();
  });

  it("on a retry settles only the re-sent subset", async () => {
    const s = startSession();
    s.deliverEpoch(PARTITION, 5, ["a", "b", "c"]);
    s.attempts[0]!.send({
      type: "sinkIo.results",
      ...frame(5, 1),
      results: [{ id: "a", status: "ok" }, { id: "b", status: "failure", error: "503" }, { id: "c", status: "fallback", reason: "poison" }],
    });
    s.attempts[0]!.send({ type: "sinkIo.endOfResults", ...frame(5, 1) });
    s.clock.increment(10);
    expect(s.attempts[1]!.input.messages.map((m) => m.id)).toEqual(["b"]);
    s.attempts[1]!.send({ type: "sinkIo.allOk", ...frame(5, 2) });
    // The fallback answer goes to the fallback writer (a promise) before the epoch is done.
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    expect(s.epochsDone().map((e) => e.tallies)).toEqual([{ messages: 3, ok: 2, fallback: 1, dropped: 0, retries: 1 }]);
    s.stop();
  });
});

describe("sink session logic: allOk", () => {
  const work = (ids: readonly string[]) => startEpoch({ epoch: 7, messages: ids.map(message), count: ids.length });

  it("is valid on a fresh attempt, a DUPLICATE_RESULT after any result, stale for an earlier attempt", () => {
    const fresh = work(["a", "b"]);
    expect(findViolation(PARTITION, fresh, { type: "sinkIo.allOk", ...frame(7, 1) })).toBeNull();
    const partial = recordResults(fresh, oks(["b"]));
    expect(findViolation(PARTITION, partial, { type: "sinkIo.allOk", ...frame(7, 1) })?.code).toBe("DUPLICATE_RESULT");
    expect(findViolation(PARTITION, fresh, { type: "sinkIo.allOk", ...frame(7, 1, 0) })?.code).toBe("WRONG_PARTITION");
    expect(findViolation(PARTITION, fresh, { type: "sinkIo.allOk", ...frame(8, 1) })?.code).toBe("WRONG_EPOCH");
    expect(isStaleFrame({ ...fresh, attempt: 2 }, { type: "sinkIo.allOk", ...frame(7, 1) })).toBe(true);
  });

  it("settles every message of the attempt as ok without per-message results", () => {
    const answered = recordAllOk(work(["a", "b", "c"]));
    expect(answered).toMatchObject({ allOk: true, receivedCount: 3, endOfResults: true, received: [] });
    const settled = settleAttempt(answered, "no result");
    expect(settled.unsettled).toEqual([]);
    expect(settled.fallbackQueue).toEqual([]);
    expect(settled.tallies).toMatchObject({ messages: 3, ok: 3 });
  });
});

describe("fromSinkFunction: when it answers with sinkIo.allOk", () => {
  /** Runs one attempt of `write` over `ids` and returns the frames it sent back. */
  async function framesOf(write: SinkFunction, ids: readonly string[]): Promise<string[]> {
    const frames: string[] = [];
    const parent = setup({ actors: { writer: fromSinkFunction(write) } }).createMachine({
      invoke: { id: "writer", src: "writer", input: { vertex: "v", partition: 0 } },
      on: { "*": { actions: ({ event }) => frames.push(event.type) } },
    });
    const actor = createActor(parent).start();
    const input = { vertex: "v", partition: 0, epoch: 1, attempt: 1, messages: ids.map(message) };
    (actor.getSnapshot().children["writer"] as AnyActorRef).send({ type: "sinkWriter.write", input });
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    actor.stop();
    return frames;
  }

  it("every message ok, in order: one allOk frame", async () => {
    expect(await framesOf(async (messages) => oks(messages.map((m) => m.id)), ["a", "b"])).toEqual(["sinkIo.allOk"]);
  });

  it("anything else: the results as they are, then end-of-results", async () => {
    const both = ["sinkIo.results", "sinkIo.endOfResults"];
    expect(await framesOf(async () => oks(["b", "a"]), ["a", "b"])).toEqual(both);
    expect(await framesOf(async () => oks(["a"]), ["a", "b"])).toEqual(both);
    expect(await framesOf(async () => oks(["a", "b", "b"]), ["a", "b"])).toEqual(both);
    expect(await framesOf(async () => [{ id: "a", status: "ok" }, { id: "b", status: "failure", error: "x" }], ["a", "b"])).toEqual(both);
    expect(
      await framesOf(async () => {
        throw new Error("down");
      }, ["a"]),
    ).toEqual(both);
  });

  it("isAllOk accepts exactly one ok per message, position by position", () => {
    const messages = ["a", "b"].map(message);
    expect(isAllOk(messages, oks(["a", "b"]))).toBe(true);
    expect(isAllOk([], [])).toBe(true);
    expect(isAllOk(messages, oks(["b", "a"]))).toBe(false);
    expect(isAllOk(messages, [{ id: "a", status: "ok" }, null])).toBe(false);
    expect(isAllOk(messages, { length: 2 })).toBe(false);
  });
});

describe("sink session: allOk among any other frames (property)", () => {
  type Step =
    | { readonly kind: "results"; readonly ids: readonly string[] }
    | { readonly kind: "endOfResults" }
    | { readonly kind: "allOk" }
    | { readonly kind: "foreign"; readonly type: "sinkIo.allOk" | "sinkIo.endOfResults"; readonly partition: number; readonly epoch: number };
  const ids = ["a", "b", "c", "d"];
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant("results" as const), ids: fc.subarray(ids, { minLength: 1 }) }),
    fc.constant({ kind: "endOfResults" as const }),
    fc.constant({ kind: "allOk" as const }),
    fc.record({
      kind: fc.constant("foreign" as const),
      type: fc.constantFrom("sinkIo.allOk" as const, "sinkIo.endOfResults" as const),
      partition: fc.constantFrom(PARTITION, 0, 2),
      epoch: fc.constantFrom(1, 2),
    }).filter((f) => f.partition !== PARTITION || f.epoch !== 1),
  );

  it("completes the first attempt only on a valid answer, and never on another partition's or epoch's frame", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 6 }), (steps) => {
        const s = startSession();
        s.deliverEpoch(PARTITION, 1, ids);
        const first = s.attempts[0]!;
        // The model: what the session must conclude about attempt 1 after these frames.
        const seen = new Set<string>();
        let verdict: "open" | "done" | "violation" = "open";
        let foreign = 0;
        for (const current of steps) {
          // Once the attempt ended its writer is stopped: nothing it sends arrives any more.
          if (verdict !== "open") continue;
          if (current.kind === "foreign") {
            first.send({ type: current.type, partition: current.partition, epoch: current.epoch, attempt: 1 } as SinkIoEvent);
            foreign += 1;
            continue;
          }
          if (current.kind === "results") {
            first.send({ type: "sinkIo.results", ...frame(1, 1), results: oks(current.ids) });
            // A frame that breaks the rules is refused whole: none of its results count.
            if (current.ids.some((id) => seen.has(id)) || new Set(current.ids).size !== current.ids.length) verdict = "violation";
            else current.ids.forEach((id) => seen.add(id));
          } else if (current.kind === "endOfResults") {
            first.send({ type: "sinkIo.endOfResults", ...frame(1, 1) });
            verdict = seen.size === ids.length ? "done" : "violation";
          } else {
            first.send({ type: "sinkIo.allOk", ...frame(1, 1) });
            verdict = seen.size === 0 ? "done" : "violation";
          }
        }
        const codes = s.protocolErrors().map((e) => e.code);
        expect(codes.filter((c) => c === "WRONG_PARTITION" || c === "WRONG_EPOCH")).toHaveLength(foreign);
        const own = codes.filter((c) => c !== "WRONG_PARTITION" && c !== "WRONG_EPOCH");
        if (verdict === "done") {
          expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok, e.tallies.retries])).toEqual([[1, 4, 0]]);
          expect(own).toEqual([]);
        } else if (verdict === "violation") {
          // The valid results are kept; the epoch ends at once when they already cover every message.
          expect(s.epochsDone().map((e) => [e.epoch, e.tallies.ok])).toEqual(seen.size === ids.length ? [[1, 4]] : []);
          expect(own).toHaveLength(1);
          expect(["DUPLICATE_RESULT", "EARLY_END_OF_RESULTS"]).toContain(own[0]);
        } else {
          expect(s.epochsDone()).toEqual([]);
          expect(own).toEqual([]);
        }
        s.stop();
      }),
      { numRuns: 300 },
    );
  });
});
