/**
 * The pure bookkeeping behind the sink session (sink-session.logic.ts) and the supervisor
 * (supervisor.logic.ts): protocol checks, settling an attempt, running out of attempts, and
 * which epochs close and join in each commit mode.
 */
import { describe, expect, it } from "vitest";
import { defaultRetryPolicy, emptyTallies, type EpochTallies, type RetryPolicy, type SinkIoEvent } from "@weir/actors";
import { backoffDelay, nextRandom } from "../src/retry-policy.js";
import {
  canRetry,
  exhaust,
  findViolation,
  hasAllResults,
  isStaleFrame,
  recordResults,
  scheduleBackoff,
  settleAttempt,
  positionsOf,
  startAttempt,
  startEpoch,
  takeReadyEpoch,
} from "../src/sink-session.logic.js";
import type { EpochWork } from "../src/sink-session.types.js";
import {
  addCommitted,
  canCloseFinal,
  closablePartitions,
  completesCommit,
  finalClosePartitions,
  hasJoinedBesides,
  initialParts,
  initialTotals,
  isUnitAcked,
  joinedUnit,
  joinsWith,
  mapUnit,
  unitTallies,
  updatePart,
} from "../src/supervisor.logic.js";
import type { CommitUnit, PartitionControl, SupervisorContext } from "../src/supervisor.types.js";
import { message } from "./support/messages.js";

/** Partition 1, epoch 3, first attempt of `ids`. */
const PARTITION = 1;
const EPOCH = 3;
function work(ids: readonly string[] = ["a", "b", "c"]): EpochWork {
  return startEpoch({ epoch: EPOCH, messages: ids.map(message), count: ids.length });
}

type Frame<T extends SinkIoEvent["type"]> = Extract<SinkIoEvent, { type: T }>;
const at = { partition: PARTITION, epoch: EPOCH, attempt: 1 };
const results = (list: Frame<"sinkIo.results">["results"], where: Partial<typeof at> = {}): Frame<"sinkIo.results"> => ({
  type: "sinkIo.results",
  ...at,
  ...where,
  results: list,
});
const endOfResults = (where: Partial<typeof at> = {}): Frame<"sinkIo.endOfResults"> => ({ type: "sinkIo.endOfResults", ...at, ...where });
const ok = (id: string) => ({ id, status: "ok" as const });
const failure = (id: string, error = "boom") => ({ id, status: "failure" as const, error });
const fallback = (id: string, reason = "poison") => ({ id, status: "fallback" as const, reason });

/** Records `list` and the end-of-results, then settles the attempt. */
function answer(current: EpochWork, list: Frame<"sinkIo.results">["results"]): EpochWork {
  return settleAttempt({ ...recordResults(current, list), endOfResults: true }, "no result");
}

const policy = (change: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...defaultRetryPolicy, steps: 2, ...change });

describe("sink session: starting an epoch and its attempts", () => {
  it("startEpoch sends every message of the epoch as attempt 1", () => {
    const started = work();
    expect(started).toMatchObject({ epoch: EPOCH, attempt: 1, receivedCount: 0, endOfResults: false, violation: null });
    expect(started.sending.map((m) => m.id)).toEqual(["a", "b", "c"]);
    expect([...positionsOf(started.sending).keys()]).toEqual(["a", "b", "c"]);
    expect(started.tallies).toEqual({ ...emptyTallies, messages: 3 });
  });

  it("startAttempt re-sends only the given subset, expects only it, and counts the retries", () => {
    const settled = answer(work(), [ok("a"), failure("b"), failure("c")]);
    const retry = startAttempt(settled, settled.unsettled);
    expect(retry.attempt).toBe(2);
    expect(retry.sending.map((m) => m.id)).toEqual(["b", "c"]);
    expect([...positionsOf(retry.sending).keys()]).toEqual(["b", "c"]);
    expect(retry.received.filter((result) => result !== undefined)).toEqual([]);
    expect(retry).toMatchObject({ receivedCount: 0, endOfResults: false, unsettled: [] });
    expect(retry.tallies).toMatchObject({ messages: 3, ok: 1, retries: 2 });
  });
});

describe("findViolation: each protocol error code", () => {
  it("accepts a well-formed frame of this partition, epoch and attempt", () => {
    const current = work();
    expect(findViolation(PARTITION, current, results([ok("a"), failure("b")]))).toBeNull();
    const allIn = recordResults(current, [ok("a"), ok("b"), ok("c")]);
    expect(findViolation(PARTITION, allIn, endOfResults())).toBeNull();
  });

  it("WRONG_PARTITION: a frame of another partition, whatever it carries", () => {
    const current = recordResults(work(), [ok("a"), ok("b"), ok("c")]);
    for (const frame of [results([ok("a")], { partition: 2 }), endOfResults({ partition: 2 })]) {
      expect(findViolation(PARTITION, current, frame)?.code).toBe("WRONG_PARTITION");
    }
    // The partition is checked first: a frame wrong in both says WRONG_PARTITION.
    expect(findViolation(PARTITION, current, endOfResults({ partition: 0, epoch: 9 }))?.code).toBe("WRONG_PARTITION");
  });

  it("WRONG_EPOCH: a frame of another epoch of this partition (a late end-of-results)", () => {
    const current = work();
    expect(findViolation(PARTITION, current, endOfResults({ epoch: EPOCH - 1 }))?.code).toBe("WRONG_EPOCH");
    expect(findViolation(PARTITION, current, results([ok("a")], { epoch: EPOCH + 1 }))?.code).toBe("WRONG_EPOCH");
  });

  it("names frames as the sink protocol does (endOfResults, results), never Weir's internal event names (#10 item 11c)", () => {
    const current = work();
    const late = findViolation(PARTITION, current, endOfResults({ epoch: EPOCH - 1 }))!.message;
    expect(late).toContain("endOfResults frame");
    expect(late).not.toContain("sinkIo");
    expect(findViolation(PARTITION, current, results([ok("a")], { partition: 0 }))!.message).toContain("a results frame for partition 0");
    expect(findViolation(PARTITION, recordResults(current, [ok("a")]), endOfResults())!.message).toMatch(/^endOfResults after 1 of 3 results/);
  });

  it("SINK_CRASHED: the adapter reports a crash", () => {
    const crashed: Frame<"sinkIo.crashed"> = { type: "sinkIo.crashed", ...at, reason: "EPIPE" };
    const violation = findViolation(PARTITION, work(), crashed);
    expect(violation?.code).toBe("SINK_CRASHED");
    expect(violation?.message).toContain("EPIPE");
  });

  it("UNKNOWN_ID: an id outside the attempt, including one an earlier attempt settled", () => {
    expect(findViolation(PARTITION, work(), results([ok("a"), ok("zzz")]))?.code).toBe("UNKNOWN_ID");
    const settled = answer(work(), [ok("a"), failure("b"), failure("c")]);
    const retry = startAttempt(settled, settled.unsettled);
    expect(findViolation(PARTITION, retry, results([ok("a")], { attempt: 2 }))?.code).toBe("UNKNOWN_ID");
  });

  it("DUPLICATE_RESULT: an id answered twice, in one frame or across frames", () => {
    expect(findViolation(PARTITION, work(), results([ok("a"), failure("a")]))?.code).toBe("DUPLICATE_RESULT");
    const answered = recordResults(work(), [ok("a")]);
    expect(findViolation(PARTITION, answered, results([ok("b"), ok("a")]))?.code).toBe("DUPLICATE_RESULT");
  });

  it("EARLY_END_OF_RESULTS: the end-of-results before every result of the attempt", () => {
    const partial = recordResults(work(), [ok("a"), ok("b")]);
    const violation = findViolation(PARTITION, partial, endOfResults());
    expect(violation?.code).toBe("EARLY_END_OF_RESULTS");
    expect(violation?.message).toContain("2 of 3");
    expect(findViolation(PARTITION, work([]), endOfResults())).toBeNull();
  });

  // RESULT_TIMEOUT is raised by the machine's `resultTimeout` delay, not by a frame:
  // see sink-session.machine.test.ts.
});

describe("sink session: stale frames and completion", () => {
  it("isStaleFrame: an earlier attempt of the same epoch, nothing else", () => {
    const settled = answer(work(), [failure("a"), failure("b"), failure("c")]);
    const retry = startAttempt(settled, settled.unsettled);
    expect(isStaleFrame(retry, endOfResults({ attempt: 1 }))).toBe(true);
    expect(isStaleFrame(retry, endOfResults({ attempt: 2 }))).toBe(false);
    expect(isStaleFrame(retry, endOfResults({ attempt: 1, epoch: EPOCH - 1 }))).toBe(false);
  });

  it("hasAllResults needs exactly one result per id sent and the adapter's end-of-results", () => {
    const allIn = recordResults(work(), [ok("a"), ok("b"), ok("c")]);
    expect(hasAllResults(allIn)).toBe(false);
    expect(hasAllResults({ ...allIn, endOfResults: true })).toBe(true);
    expect(hasAllResults({ ...recordResults(work(), [ok("a")]), endOfResults: true })).toBe(false);
  });
});

describe("settleAttempt", () => {
  it("makes ok final, queues fallback answers, and leaves failures and missing results unsettled", () => {
    const settled = settleAttempt(recordResults(work(["a", "b", "c", "d"]), [ok("a"), fallback("b", "poison pill"), failure("c", "503")]), "no result");
    expect(settled.tallies).toMatchObject({ messages: 4, ok: 1, fallback: 0, dropped: 0 });
    expect(settled.fallbackQueue).toEqual([{ message: message("b"), reason: "poison pill", attempts: 1 }]);
    expect(settled.unsettled.map((m) => m.id)).toEqual(["c", "d"]);
    expect(settled.lastErrors).toEqual({ c: "503", d: "no result" });
  });

  it("adds up over attempts and keeps earlier fallback answers", () => {
    const first = answer(work(), [fallback("a"), failure("b"), failure("c")]);
    const second = answer(startAttempt(first, first.unsettled), [ok("b"), failure("c", "still down")]);
    expect(second.tallies).toMatchObject({ ok: 1, retries: 2 });
    expect(second.fallbackQueue.map((item) => item.message.id)).toEqual(["a"]);
    expect(second.unsettled.map((m) => m.id)).toEqual(["c"]);
    expect(second.lastErrors).toMatchObject({ c: "still down" });
  });

  it("after a protocol error, a message without a result carries the violation as its error", () => {
    const settled = settleAttempt(recordResults(work(), [ok("a")]), "protocol error: early end-of-results");
    expect(settled.unsettled.map((m) => m.id)).toEqual(["b", "c"]);
    expect(settled.lastErrors.b).toBe("protocol error: early end-of-results");
  });
});

describe("canRetry", () => {
  const failedOnce = answer(work(), [ok("a"), failure("b"), ok("c")]);
  const failedTwice = answer(startAttempt(failedOnce, failedOnce.unsettled), [failure("b")]);

  it("retries while attempts are left (steps counts them all)", () => {
    expect(canRetry(failedOnce, policy({ steps: 2, onFailure: "drop" }))).toBe(true);
    expect(canRetry(failedTwice, policy({ steps: 2, onFailure: "drop" }))).toBe(false);
    expect(canRetry(failedTwice, policy({ steps: 2, onFailure: "fallback" }))).toBe(false);
    expect(canRetry(failedOnce, policy({ steps: 1, onFailure: "drop" }))).toBe(false);
  });

  it("onFailure retry never runs out", () => {
    expect(canRetry(failedTwice, policy({ steps: 2, onFailure: "retry" }))).toBe(true);
    expect(canRetry({ ...failedTwice, attempt: 1_000 }, policy({ steps: 2, onFailure: "retry" }))).toBe(true);
  });

  it("has nothing to retry once everything is settled", () => {
    const allOk = answer(work(), [ok("a"), ok("b"), ok("c")]);
    expect(canRetry(allOk, policy({ onFailure: "retry" }))).toBe(false);
  });
});

describe("exhaust: onFailure once attempts run out", () => {
  const failedTwice = (() => {
    const first = answer(work(), [ok("a"), failure("b", "timeout"), failure("c", "500")]);
    return answer(startAttempt(first, first.unsettled), [failure("b", "timeout again"), failure("c", "500")]);
  })();

  it("drop: counts the unsettled as dropped, sends nothing anywhere", () => {
    const done = exhaust(failedTwice, policy({ onFailure: "drop" }));
    expect(done.unsettled).toEqual([]);
    expect(done.fallbackQueue).toEqual([]);
    expect(done.tallies).toMatchObject({ messages: 3, ok: 1, dropped: 2, fallback: 0 });
  });

  it("fallback: queues the unsettled for the fallback sink with the reason and the attempts made", () => {
    const done = exhaust(failedTwice, policy({ onFailure: "fallback" }));
    expect(done.unsettled).toEqual([]);
    expect(done.tallies.dropped).toBe(0);
    expect(done.fallbackQueue).toEqual([
      { message: message("b"), reason: "retries exhausted after 2 attempts: timeout again", attempts: 2 },
      { message: message("c"), reason: "retries exhausted after 2 attempts: 500", attempts: 2 },
    ]);
  });

  it("retry: only reached with nothing unsettled (canRetry never lets go), and then changes nothing", () => {
    const allOk = answer(work(), [ok("a"), ok("b"), ok("c")]);
    expect(exhaust(allOk, policy({ onFailure: "retry" }))).toBe(allOk);
    expect(canRetry(failedTwice, policy({ onFailure: "retry" }))).toBe(true);
  });

  it("keeps sink-answered fallbacks queued beside the exhausted ones", () => {
    const first = answer(work(), [fallback("a", "poison"), failure("b"), ok("c")]);
    const done = exhaust(first, policy({ steps: 1, onFailure: "fallback" }));
    expect(done.fallbackQueue.map((item) => [item.message.id, item.reason])).toEqual([
      ["a", "poison"],
      ["b", "retries exhausted after 1 attempts: boom"],
    ]);
  });
});

describe("scheduleBackoff and takeReadyEpoch", () => {
  it("scheduleBackoff draws the jitter from the seeded state and advances it", () => {
    const p = policy({ intervalMs: 100, factor: 3, jitter: 0.5, capMs: 10_000 });
    const settled = answer(work(), [failure("a"), ok("b"), ok("c")]);
    const draw = nextRandom(99);
    const scheduled = scheduleBackoff(settled, p, 99);
    expect(scheduled.rng).toBe(draw.state);
    expect(scheduled.work.nextDelayMs).toBe(backoffDelay(p, 1, draw.value));
    expect(scheduleBackoff(settled, p, 99)).toEqual(scheduled);
  });

  it("takeReadyEpoch: the head of the inbox, once its EOT arrived; never a later epoch first", () => {
    const head = { epoch: 4, messages: [message("a")], count: null };
    const next = { epoch: 5, messages: [], count: 0 };
    expect(takeReadyEpoch([])).toBeUndefined();
    expect(takeReadyEpoch([head, next])).toBeUndefined();
    expect(takeReadyEpoch([{ ...head, count: 1 }, next])?.epoch).toBe(4);
  });
});

// ─── supervisor.logic ───────────────────────────────────────────────────────────────────────

function context(change: Partial<SupervisorContext> = {}): SupervisorContext {
  const partitions = change.partitions ?? 3;
  return {
    vertex: "v",
    partitions,
    commitMode: "aligned",
    maxInflightEpochs: 2,
    sinkCommit: false,
    settings: { readBatchSize: 10, readTimeoutMs: 50, retry: defaultRetryPolicy, resultTimeoutMs: 100, startWithPending: false, windowKeepers: false, seed: 1 },
    nextEpoch: 1,
    parts: initialParts(partitions),
    units: [],
    committing: null,
    commitSent: false,
    totals: initialTotals(partitions),
    committedEpochs: 0,
    drainRequested: false,
    failure: null,
    finishedChildren: [],
    ...change,
  };
}

const parts = (...each: Array<Partial<PartitionControl>>): PartitionControl[] =>
  each.map((part) => ({ hasData: false, closeRequested: false, draining: false, ...part }));
const unit = (epoch: number, partitions: number[], done: number[] = [], acked: number[] = []): CommitUnit => ({
  epoch,
  partitions,
  done: Object.fromEntries(done.map((p) => [p, { ...emptyTallies, messages: 1, ok: 1 }])),
  acked: Object.fromEntries(acked.map((p) => [p, 1])),
});

describe("supervisor: closablePartitions", () => {
  it("aligned: nothing closes until some partition asks", () => {
    const ctx = context({ parts: parts({ hasData: true }, {}, {}) });
    expect(closablePartitions(ctx)).toEqual([]);
  });

  it("aligned: one partition's request closes the epoch for every partition, idle ones included", () => {
    const ctx = context({ parts: parts({}, { hasData: true, closeRequested: true }, {}) });
    expect(closablePartitions(ctx)).toEqual([0, 1, 2]);
  });

  it("aligned: at maxInflightEpochs uncommitted epochs the close waits (held back)", () => {
    const ctx = context({
      parts: parts({ closeRequested: true }, {}, {}),
      units: [unit(1, [0, 1, 2]), unit(2, [0, 1, 2])],
    });
    expect(closablePartitions(ctx)).toEqual([]);
    expect(closablePartitions(ctx, true)).toEqual([0, 1, 2]);
    // A commit frees a slot: the held close can go.
    expect(closablePartitions({ ...ctx, units: ctx.units.slice(1) })).toEqual([0, 1, 2]);
  });

  it("partition mode: each partition closes on its own request, against its own in-flight count", () => {
    const ctx = context({
      commitMode: "partition",
      parts: parts({ closeRequested: true }, {}, { closeRequested: true }),
      units: [unit(1, [0]), unit(2, [0]), unit(3, [2])],
    });
    expect(closablePartitions(ctx)).toEqual([2]);
    // Only partition 0 asks, and it is at the limit: held back, whatever the others hold.
    const alone = { ...ctx, parts: parts({ closeRequested: true }, {}, {}) };
    expect(closablePartitions(alone)).toEqual([]);
    expect(closablePartitions(alone, true)).toEqual([0]);
  });
});

describe("supervisor: the drain's final close", () => {
  it("aligned: every partition (EOT 0 where empty) once any holds data; none when nothing is left", () => {
    expect(finalClosePartitions(context({ parts: parts({}, { hasData: true }, {}) }))).toEqual([0, 1, 2]);
    expect(finalClosePartitions(context())).toEqual([]);
  });

  it("partition mode: only the partitions holding data", () => {
    expect(finalClosePartitions(context({ commitMode: "partition", parts: parts({}, { hasData: true }, { hasData: true }) }))).toEqual([1, 2]);
  });

  it("canCloseFinal waits for an in-flight slot in both modes", () => {
    const full = [unit(1, [0, 1, 2]), unit(2, [0, 1, 2])];
    expect(canCloseFinal(context({ units: full }))).toBe(false);
    expect(canCloseFinal(context({ units: full.slice(1) }))).toBe(true);
    const partitionMode = context({
      commitMode: "partition",
      parts: parts({ hasData: true }, {}, { hasData: true }),
      units: [unit(1, [0]), unit(2, [0]), unit(3, [1]), unit(4, [1])],
    });
    expect(canCloseFinal(partitionMode)).toBe(false);
    // Partition 1 is at its limit but has nothing to close: it does not hold the final close.
    expect(canCloseFinal({ ...partitionMode, units: partitionMode.units.slice(1) })).toBe(true);
  });
});

describe("supervisor: joining and committing", () => {
  it("aligned: an epoch joins only when every partition reported sink.epochDone", () => {
    expect(joinedUnit([unit(1, [0, 1, 2], [0, 2])])).toBeUndefined();
    expect(joinedUnit([unit(1, [0, 1, 2], [0, 1, 2])])?.epoch).toBe(1);
  });

  it("partition mode: each partition's unit joins on its own report, independent of the others", () => {
    const units = [unit(1, [0]), unit(2, [1], [1]), unit(3, [0], [0])];
    expect(joinedUnit(units)?.epoch).toBe(2);
    expect(joinedUnit([units[0]!])).toBeUndefined();
  });

  it("isUnitAcked once every partition of the unit acked", () => {
    expect(isUnitAcked(unit(1, [0, 1], [0, 1], [0]))).toBe(false);
    expect(isUnitAcked(unit(1, [0, 1], [0, 1], [0, 1]))).toBe(true);
  });

  it("joinsWith looks ahead: the report that completes some unit's join, and no other", () => {
    const units = [unit(1, [0, 1, 2], [0, 2]), unit(2, [0, 1], [0])];
    expect(joinsWith(units, 1, 1)).toBe(true);
    expect(joinsWith(units, 1, 0)).toBe(false);
    expect(joinsWith(units, 2, 1)).toBe(true);
    expect(joinsWith(units, 3, 1)).toBe(false);
    expect(joinsWith([], 1, 0)).toBe(false);
  });

  it("completesCommit: the last ack of the epoch whose commit was sent; hasJoinedBesides finds the next", () => {
    const units = [unit(1, [0, 1], [0, 1], [0]), unit(2, [0, 1], [0, 1]), unit(3, [0, 1], [0])];
    const committing = context({ units, committing: 1, commitSent: true });
    expect(completesCommit(committing, 1, 1)).toBe(true);
    expect(completesCommit(committing, 1, 0)).toBe(false);
    expect(completesCommit(committing, 2, 1)).toBe(false);
    expect(completesCommit({ ...committing, commitSent: false }, 1, 1)).toBe(false);
    expect(hasJoinedBesides(units, 1)).toBe(true);
    expect(hasJoinedBesides(units, 2)).toBe(true);
    expect(hasJoinedBesides([units[0]!, units[2]!], 1)).toBe(false);
  });

  it("unitTallies adds up the partitions' reports; addCommitted books them per partition", () => {
    const tallies = (t: Partial<EpochTallies>): EpochTallies => ({ ...emptyTallies, ...t });
    const joined: CommitUnit = {
      epoch: 7,
      partitions: [0, 2],
      done: { 0: tallies({ messages: 5, ok: 4, dropped: 1, retries: 2 }), 2: tallies({ messages: 3, ok: 2, fallback: 1 }) },
      acked: { 0: 5, 2: 3 },
    };
    expect(unitTallies(joined)).toEqual({ messages: 8, ok: 6, fallback: 1, dropped: 1, retries: 2 });
    const totals = addCommitted(initialTotals(3), joined);
    expect(totals[0]).toMatchObject({ messages: 5, ok: 4, dropped: 1, retries: 2, epochs: 1, acked: 5 });
    expect(totals[1]).toMatchObject({ messages: 0, epochs: 0, acked: 0 });
    expect(totals[2]).toMatchObject({ messages: 3, ok: 2, fallback: 1, epochs: 1, acked: 3 });
  });

  it("updatePart and mapUnit change only their target", () => {
    const before = initialParts(3);
    const after = updatePart(before, 1, { draining: true });
    expect(after.map((part) => part.draining)).toEqual([false, true, false]);
    expect(before[1]!.draining).toBe(false);
    const units = [unit(1, [0]), unit(2, [1])];
    const changed = mapUnit(units, 2, (u) => ({ ...u, acked: { 1: 9 } }));
    expect(changed[0]).toBe(units[0]);
    expect(changed[1]!.acked).toEqual({ 1: 9 });
  });
});
