import { describe, expect, it } from "vitest";
import type { Message, SinkContext, SinkResult } from "@weir/actors";
import { defaultRetryPolicy } from "@weir/actors";
import { orderSinkFunction } from "@weir/runtime";
import { isHeldBackReason, isLastAttempt, orderKeyOf, planWaves, runInKeyOrder } from "../src/flow/ordered-waves.js";

const message = (id: string, keys: readonly string[]): Message => ({ id, keys, value: new Uint8Array(), eventTime: 0, headers: {} });
// a1 b1 a2 c1 a3 b2 x y (x, y keyless)
const batch = [
  message("a1", ["a"]),
  message("b1", ["b"]),
  message("a2", ["a"]),
  message("c1", ["c"]),
  message("a3", ["a"]),
  message("b2", ["b"]),
  message("x", []),
  message("y", []),
];
const context = (attempt: number): SinkContext => ({ vertex: "out", partition: 0, epoch: 1, attempt, signal: new AbortController().signal });

describe("per-key waves", () => {
  it("plan: wave n holds the (n+1)-th message of every key, keyless ones all in wave 0", () => {
    expect(planWaves(batch).map((wave) => wave.map((i) => batch[i]!.id))).toEqual([["a1", "b1", "c1", "x", "y"], ["a2", "b2"], ["a3"]]);
  });

  it("keys are compared as whole lists: ['a','b'] is neither 'a' nor the text of the list", () => {
    const keys = [orderKeyOf(message("1", ["a"])), orderKeyOf(message("2", ["a", "b"])), orderKeyOf(message("3", ['["a","b"]'])), orderKeyOf(message("4", []))];
    expect(new Set(keys).size).toBe(4);
    expect(keys[3]).toBeUndefined();
  });

  it("a failure holds back the later messages of its key only, with the reason; other keys go on", async () => {
    const sent: string[][] = [];
    const outcome = await runInKeyOrder<{ error?: string }>(batch, { lastAttempt: false }, {
      run: async (wave) => {
        sent.push(wave.map((m) => m.id));
        return wave.map((m) => (m.id === "a1" ? { error: "boom" } : {}));
      },
      blocks: (result) => result === undefined || result.error !== undefined,
      heldBack: (_m, blocker) => ({ error: `held back behind '${blocker.id}' (ordered)` }),
    });
    expect(sent).toEqual([["a1", "b1", "c1", "x", "y"], ["b2"]]);
    expect(outcome.heldBack).toBe(2);
    expect(outcome.results.map((r) => r?.error)).toEqual(["boom", undefined, "held back behind 'a1' (ordered)", undefined, "held back behind 'a1' (ordered)", undefined, undefined, undefined]);
    expect(isHeldBackReason(outcome.results[2]!.error!)).toBe(true);
    expect(isHeldBackReason("udf threw for 'a1': held back behind 'x' (ordered) no")).toBe(false);
  });

  it("in the last attempt the retry strategy allows, a failure ends its message and its key goes on", async () => {
    const policy = { ...defaultRetryPolicy, steps: 3, onFailure: "fallback" as const };
    expect([1, 2, 3].map((attempt) => isLastAttempt(policy, attempt))).toEqual([false, false, true]);
    expect(isLastAttempt({ ...policy, onFailure: "retry" }, 99)).toBe(false);
    const sent: string[] = [];
    await runInKeyOrder<{ error?: string }>(batch, { lastAttempt: true }, {
      run: async (wave) => (sent.push(...wave.map((m) => m.id)), wave.map((m) => (m.id === "a1" ? { error: "boom" } : {}))),
      blocks: (result) => result?.error !== undefined,
      heldBack: () => ({ error: "held" }),
    });
    expect(sent).toContain("a3");
  });
});

describe("an ordered sink function", () => {
  it("answers in input order when all is ok (the session's all-ok fast path), one sink call per wave", async () => {
    const calls: string[][] = [];
    const write = orderSinkFunction(async (messages) => (calls.push(messages.map((m) => m.id)), messages.map((m): SinkResult => ({ id: m.id, status: "ok" }))), { retry: defaultRetryPolicy });
    const results = await write(batch, context(1));
    expect(results.map((r) => r.id)).toEqual(batch.map((m) => m.id));
    expect(calls).toHaveLength(3);
  });

  it("a fallback answer unblocks its key; a failure or a missing answer blocks it; a throw fails its wave", async () => {
    const write = orderSinkFunction(
      async (messages): Promise<SinkResult[]> => {
        if (messages.some((m) => m.id === "c1")) {
          // a1: fallback; b1: no answer; c1: failure; an answer for an id it was not given
          return [
            { id: "a1", status: "fallback", reason: "bad" },
            { id: "c1", status: "failure", error: "nope" },
            { id: "x", status: "ok" },
            { id: "y", status: "ok" },
            { id: "zz", status: "ok" },
          ];
        }
        throw new Error("down");
      },
      { retry: defaultRetryPolicy },
    );
    const results = await write(batch, context(1));
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get("a1")).toMatchObject({ status: "fallback" });
    expect(byId.get("a2")).toMatchObject({ status: "failure", error: "down" }); // sent (a1 ended), its wave threw
    expect(byId.get("a3")).toMatchObject({ status: "failure", error: "held back behind 'a2' (ordered)" });
    expect(byId.has("b1")).toBe(false); // unanswered: the session sees it missing and redrives it
    expect(byId.get("b2")).toMatchObject({ status: "failure", error: "held back behind 'b1' (ordered)" });
    expect(byId.get("zz")).toMatchObject({ status: "ok" }); // passed on for the session to judge
  });

  it("a retryLater answer (issue #15 part 3) is a retriable failure within the epoch: its key is held back", async () => {
    const write = orderSinkFunction(
      async (messages) => messages.map((m) => (m.id === "a1" ? ({ id: m.id, status: "retryLater", delayMs: 2000 } as unknown as SinkResult) : { id: m.id, status: "ok" as const })),
      { retry: defaultRetryPolicy },
    );
    const byId = new Map((await write(batch, context(1))).map((r) => [r.id, r]));
    expect(byId.get("a1")).toMatchObject({ status: "failure", error: "retryLater (asked for 2000 ms) under ordered: retried within its epoch so its key keeps its order" });
    expect(byId.get("a2")).toMatchObject({ status: "failure", error: "held back behind 'a1' (ordered)" });
    expect(byId.get("b2")).toMatchObject({ status: "ok" });
  });
});
