/**
 * The retry strategy of a sink session (DESIGN §2.1 step 4), end to end through the supervisor,
 * on the simulated clock: which attempts happen, what each re-sends, when, and how every message
 * ends (`ok | fallback | dropped`) once attempts run out.
 */
import { describe, expect, it } from "vitest";
import { fromSinkFunction, type RetryPolicy, type SinkResult } from "@weir/actors";
import {
  assertEveryInputDelivered,
  assertNothingAckedBeforeResult,
  assertNothingAckedTwice,
  makeMessages,
  runVertex,
  type AttemptInfo,
  type RunVertexOptions,
  type VertexRun,
} from "@weir/testkit";

/** One partition, 20 messages, all in epoch 1 (readBatchSize 20), a sink that answers at once. */
const inputs = makeMessages(1, 20);
const failing = new Set(["p0-3", "p0-7", "p0-12"]);
const strategy = { steps: 2, intervalMs: 100, factor: 3, capMs: 10_000, jitter: 0 } as const;

function run(options: Partial<RunVertexOptions> & { retry: Partial<RetryPolicy> }): Promise<VertexRun> {
  return runVertex({
    inputs,
    readBatchSize: 20,
    resultTimeoutMs: 1_000,
    timeLimitMs: 120_000,
    ...options,
    sink: { latencyMs: { min: 0, max: 0 }, ...options.sink },
  });
}

/** The attempts of the one epoch that held data, in order. */
function attemptsWithData(run: VertexRun): AttemptInfo[] {
  return run.sink!.attempts.filter((attempt) => attempt.ids.length > 0);
}

/** The time between consecutive calls (attempts, fallback writes), in simulated ms. */
function gaps(calls: ReadonlyArray<{ readonly atMs: number }>): number[] {
  return calls.slice(1).map((call, i) => call.atMs - calls[i]!.atMs);
}

/** Backoff gaps are measured between attempt starts; the answer's own 1ms tick rides on each. */
function expectGapsNear(measured: readonly number[], expected: readonly number[]): void {
  expect(measured).toHaveLength(expected.length);
  measured.forEach((gap, i) => {
    expect(Math.abs(gap - expected[i]!), `gap ${i + 1}: ${gap}ms, expected ${expected[i]}ms ±2`).toBeLessThanOrEqual(2);
  });
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

describe("retry strategy: attempts and what they re-send", () => {
  it("makes `steps` attempts — 1 and 2, never 3 — re-sending only the failed subset", async () => {
    const result = await run({
      retry: { ...strategy, onFailure: "drop" },
      sink: { alwaysFails: (message) => failing.has(message.id) },
    });
    const attempts = attemptsWithData(result);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(attempts.every((a) => a.epoch === attempts[0]!.epoch)).toBe(true);
    expect(attempts[0]!.ids).toHaveLength(20);
    expect(sorted(attempts[1]!.ids)).toEqual(sorted(failing));
    expect(result.output.partitions[0]!.retries).toBe(failing.size);
  });

  it("passes the attempt number to a sink function (ctx.attempt)", async () => {
    const seen: Array<{ attempt: number; ids: string[] }> = [];
    const sinkWriter = fromSinkFunction(async (messages, ctx): Promise<SinkResult[]> => {
      seen.push({ attempt: ctx.attempt, ids: messages.map((m) => m.id) });
      return messages.map((m) =>
        failing.has(m.id) && ctx.attempt < 3 ? { id: m.id, status: "failure", error: "not yet" } : { id: m.id, status: "ok" },
      );
    });
    const result = await run({ sinkWriter, retry: { ...strategy, steps: 5, onFailure: "drop" } });
    const withData = seen.filter((call) => call.ids.length > 0);
    expect(withData.map((call) => call.attempt)).toEqual([1, 2, 3]);
    expect(sorted(withData[1]!.ids)).toEqual(sorted(failing));
    expect(sorted(withData[2]!.ids)).toEqual(sorted(failing));
    expect(result.output.partitions[0]).toMatchObject({ ok: 20, dropped: 0, fallback: 0, acked: 20 });
  });
});

describe("retry strategy: onFailure once attempts run out", () => {
  it("drop: the exhausted messages are counted as dropped and acked once, never redelivered", async () => {
    const result = await run({
      retry: { ...strategy, onFailure: "drop" },
      sink: { alwaysFails: (message) => failing.has(message.id) },
    });
    expect(result.output.status).toBe("completed");
    expect(result.output.partitions[0]).toMatchObject({ messages: 20, ok: 17, dropped: 3, fallback: 0, acked: 20 });
    expect(sorted(result.log.ackedIds())).toEqual(sorted(inputs[0]!.map((m) => m.id)));
    assertNothingAckedTwice(result.log);
    expect(result.log.fallbackIds()).toEqual([]);
    expect(result.fallbackCalls).toEqual([]);
    // Acked only after the last attempt answered: a dropped message's ack follows its 2nd failure.
    for (const id of failing) {
      const lastFailure = result.log.events.findLastIndex((e) => e.kind === "result" && e.id === id);
      const ack = result.log.events.findIndex((e) => e.kind === "ack" && e.id === id);
      expect(result.log.events.filter((e) => e.kind === "result" && e.id === id).map((e) => e.kind === "result" && e.status)).toEqual([
        "failure",
        "failure",
      ]);
      expect(ack).toBeGreaterThan(lastFailure);
    }
    // Nothing left in the source to redeliver, and no attempt after the second.
    expect(result.source.unread(0)).toEqual([]);
    expect(Math.max(...result.sink!.attempts.map((a) => a.attempt))).toBe(2);
  });

  it("fallback: the fallback writer gets exactly the exhausted set, with the reason", async () => {
    const result = await run({
      retry: { ...strategy, onFailure: "fallback" },
      sink: { alwaysFails: (message) => failing.has(message.id) },
    });
    expect(result.output.partitions[0]).toMatchObject({ messages: 20, ok: 17, fallback: 3, dropped: 0, acked: 20 });
    expect(sorted(result.log.fallbackIds())).toEqual(sorted(failing));
    expect(result.fallbackCalls).toHaveLength(1);
    for (const item of result.fallbackCalls[0]!.items) {
      expect(item.attempts).toBe(2);
      expect(item.reason).toContain("retries exhausted after 2 attempts");
      expect(item.reason).toContain("scripted permanent failure");
    }
    assertEveryInputDelivered(inputs, result.log);
    assertNothingAckedBeforeResult(result.log);
    assertNothingAckedTwice(result.log);
    expect(attemptsWithData(result).map((a) => a.attempt)).toEqual([1, 2]);
  });

  it("retry: keeps trying beyond `steps` until the sink succeeds, each time with the failed subset", async () => {
    const result = await run({
      retry: { ...strategy, onFailure: "retry" },
      // Fails on attempts 1–4, succeeds on the 5th.
      sink: { alwaysFails: (message, attempt) => failing.has(message.id) && attempt < 5 },
    });
    const attempts = attemptsWithData(result);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    for (const attempt of attempts.slice(1)) expect(sorted(attempt.ids)).toEqual(sorted(failing));
    expect(result.output.partitions[0]).toMatchObject({ ok: 20, fallback: 0, dropped: 0, retries: 4 * failing.size, acked: 20 });
    assertEveryInputDelivered(inputs, result.log);
    assertNothingAckedBeforeResult(result.log);
    assertNothingAckedTwice(result.log);
  });

  it("a sink that answers `fallback` sends the message to the fallback at once, never retried", async () => {
    const answered = new Set(["p0-1", "p0-2"]);
    const result = await run({
      retry: { ...strategy, steps: 5, onFailure: "drop" },
      sink: { answersFallback: (message) => answered.has(message.id) },
    });
    expect(attemptsWithData(result).map((a) => a.attempt)).toEqual([1]);
    expect(sorted(result.log.fallbackIds())).toEqual(sorted(answered));
    expect(result.fallbackCalls).toHaveLength(1);
    expect(result.fallbackCalls[0]!.items.map((item) => ({ reason: item.reason, attempts: item.attempts }))).toEqual([
      { reason: "scripted fallback", attempts: 1 },
      { reason: "scripted fallback", attempts: 1 },
    ]);
    expect(result.output.partitions[0]).toMatchObject({ ok: 18, fallback: 2, dropped: 0, retries: 0, acked: 20 });
    assertEveryInputDelivered(inputs, result.log);
    assertNothingAckedBeforeResult(result.log);
  });

  it("a failing fallback writer is retried until it succeeds: the message is never lost", async () => {
    const result = await run({
      retry: { ...strategy, onFailure: "fallback" },
      sink: { alwaysFails: (message) => failing.has(message.id) },
      fallbackFailures: 3,
    });
    expect(result.fallbackCalls.map((call) => call.failed)).toEqual([true, true, true, false]);
    for (const call of result.fallbackCalls) expect(sorted(call.items.map((item) => item.id))).toEqual(sorted(failing));
    // Each retry of the fallback waits a backoff on the simulated clock, not a busy loop.
    for (const gap of gaps(result.fallbackCalls)) {
      expect(gap).toBeGreaterThanOrEqual(strategy.intervalMs);
    }
    // Written once, counted once, acked only after it was written.
    expect(sorted(result.log.fallbackIds())).toEqual(sorted(failing));
    expect(result.output.partitions[0]).toMatchObject({ ok: 17, fallback: 3, dropped: 0, acked: 20 });
    assertEveryInputDelivered(inputs, result.log);
    assertNothingAckedBeforeResult(result.log);
    assertNothingAckedTwice(result.log);
  });
});

describe("retry strategy: backoff on the simulated clock", () => {
  const failUntilFifth = { alwaysFails: (message: { id: string }, attempt: number) => failing.has(message.id) && attempt < 5 };

  it("waits interval × factor^n between attempts: +100, +300, +900, +2700", async () => {
    const result = await run({ retry: { ...strategy, onFailure: "retry" }, sink: failUntilFifth });
    expectGapsNear(gaps(attemptsWithData(result)), [100, 300, 900, 2_700]);
  });

  it("caps the wait at capMs", async () => {
    const result = await run({ retry: { ...strategy, capMs: 500, onFailure: "retry" }, sink: failUntilFifth });
    expectGapsNear(gaps(attemptsWithData(result)), [100, 300, 500, 500]);
  });

  it("jitter stays within [base, base × (1 + jitter)] and is the same for the same seed", async () => {
    const jittered = (seed: number) => run({ seed, retry: { ...strategy, jitter: 0.5, onFailure: "retry" }, sink: failUntilFifth });
    const first = gaps(attemptsWithData(await jittered(42)));
    const again = gaps(attemptsWithData(await jittered(42)));
    const other = gaps(attemptsWithData(await jittered(43)));
    const bases = [100, 300, 900, 2_700];
    for (const measured of [first, other]) {
      expect(measured).toHaveLength(bases.length);
      measured.forEach((gap, i) => {
        expect(gap).toBeGreaterThanOrEqual(bases[i]!);
        expect(gap).toBeLessThanOrEqual(bases[i]! * 1.5 + 2);
      });
    }
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    // Jitter really moved the attempts off the unjittered schedule.
    expect(first.some((gap, i) => gap > bases[i]! + 2)).toBe(true);
  });
});
