import { describe, expect, it } from "vitest";
import {
  assertEveryInputDelivered,
  assertNothingAckedBeforeResult,
  assertNothingAckedTwice,
  assertPartitionsKeptApart,
  makeMessages,
  runVertex,
  type Misbehaviour,
  type VertexRun,
} from "@weir/testkit";
import type { Message } from "@weir/actors";

function assertSound(inputs: readonly (readonly Message[])[], run: VertexRun): void {
  assertEveryInputDelivered(inputs, run.log);
  assertNothingAckedBeforeResult(run.log);
  assertNothingAckedTwice(run.log);
  assertPartitionsKeptApart(inputs, run.log);
  expect(run.output.status).toBe("completed");
}

const protocolErrors = (run: VertexRun) => run.emitted.filter((event) => event.type === "protocolError");

/** Misbehaves once, on the first attempt of epoch 2 of partition 1. */
const once = (misbehaviour: Misbehaviour) => (attempt: { partition: number; epoch: number; attempt: number }) =>
  attempt.partition === 1 && attempt.epoch === 2 && attempt.attempt === 1 ? misbehaviour : undefined;

describe("EOT protocol: a sink that breaks the protocol", () => {
  it("the same 4-partition run completes when 10% fail on their first attempt", async () => {
    const inputs = makeMessages(4, 5_000);
    const run = await runVertex({
      inputs,
      readBatchSize: 200,
      maxInflightEpochs: 3,
      sink: { seed: 11, latencyMs: { min: 0, max: 40 }, failFirstAttempt: 0.1 },
    });
    assertSound(inputs, run);
    const retried = run.output.partitions.reduce((sum, p) => sum + p.retries, 0);
    expect(retried).toBeGreaterThan(1_500);
    expect(retried).toBeLessThan(2_500);
  });

  it("early end-of-results is a counted protocol error and the epoch is redriven", async () => {
    const inputs = makeMessages(2, 300);
    const run = await runVertex({ inputs, sink: { latencyMs: { min: 1, max: 5 }, misbehave: once("earlyEndOfResults") } });
    assertSound(inputs, run);
    const errors = protocolErrors(run);
    expect(errors.map((e) => e.type === "protocolError" && e.code)).toContain("EARLY_END_OF_RESULTS");
    expect(run.output.partitions[1]!.protocolErrors).toBeGreaterThanOrEqual(1);
    // The redrive re-sent only what had no result: a second attempt of epoch 2 on partition 1.
    const redrive = run.sink!.attempts.find((a) => a.partition === 1 && a.epoch === 2 && a.attempt === 2);
    expect(redrive).toBeDefined();
    expect(redrive!.ids.length).toBeGreaterThan(0);
    expect(redrive!.ids.length).toBeLessThan(100);
  });

  it("a late end-of-results is never merged into the next epoch", async () => {
    const inputs = makeMessages(2, 1_000);
    const run = await runVertex({
      inputs,
      resultTimeoutMs: 50,
      sink: { latencyMs: { min: 1, max: 5 }, misbehave: once("lateEndOfResults"), lateByMs: 70 },
    });
    assertSound(inputs, run);
    const errors = protocolErrors(run).flatMap((e) => (e.type === "protocolError" ? [e] : []));
    expect(errors.map((e) => e.code)).toContain("RESULT_TIMEOUT");
    // Epoch 2's end-of-results arrived while partition 1 was on a later epoch: reported as
    // a protocol error of that later epoch, not merged into it.
    const late = errors.find((e) => e.code === "WRONG_EPOCH");
    expect(late?.partition).toBe(1);
    expect(late?.message).toContain("epoch 2");
    expect(run.output.partitions[1]!.ok).toBe(1_000);
  });

  it.each<Misbehaviour>(["duplicateResult", "unknownId", "missingId"])("%s is a protocol error, never an ack", async (misbehaviour) => {
    const inputs = makeMessages(3, 300);
    const run = await runVertex({ inputs, sink: { latencyMs: { min: 1, max: 5 }, misbehave: once(misbehaviour) } });
    assertSound(inputs, run);
    const expected = { duplicateResult: "DUPLICATE_RESULT", unknownId: "UNKNOWN_ID", missingId: "EARLY_END_OF_RESULTS" }[
      misbehaviour as "duplicateResult" | "unknownId" | "missingId"
    ];
    expect(protocolErrors(run).map((e) => (e.type === "protocolError" ? `${e.partition}/${e.epoch}/${e.code}` : ""))).toContain(`1/2/${expected}`);
    // The misbehaving attempt acks nothing: the epoch is redriven (the unsettled part of it) and
    // acked only after the redrive's results, each of its messages once.
    const [first, redrive] = [1, 2].map((n) => run.sink!.attempts.find((a) => a.partition === 1 && a.epoch === 2 && a.attempt === n));
    expect(redrive, "the epoch was redriven").toBeDefined();
    expect(redrive!.ids.length).toBeGreaterThan(0);
    expect(first!.ids).toEqual(expect.arrayContaining([...redrive!.ids]));
    const events = run.log.events;
    const ofEpoch = (kind: "result" | "ack") => events.flatMap((e, i) => (e.kind === kind && e.partition === 1 && e.epoch === 2 ? [i] : []));
    const redriveResults = events.flatMap((e, i) => (e.kind === "result" && e.partition === 1 && redrive!.ids.includes(e.id) ? [i] : []));
    expect(Math.min(...ofEpoch("ack")), "no message of the epoch acked before the redrive answered").toBeGreaterThan(Math.max(...redriveResults));
    expect(ofEpoch("ack").map((i) => (events[i] as { id: string }).id).sort()).toEqual([...first!.ids].sort());
    // An extra or repeated result is never counted: ok once per message.
    expect(run.output.partitions.map((p) => p.ok)).toEqual([300, 300, 300]);
  });

  it("an end-of-results that lands on another partition's stream (numaflow#2516) completes neither epoch", async () => {
    const inputs = makeMessages(4, 400);
    const run = await runVertex({
      inputs,
      resultTimeoutMs: 300,
      sink: { latencyMs: { min: 1, max: 10 }, misbehave: once("crossPartition") },
    });
    assertSound(inputs, run);
    const codes = protocolErrors(run).map((e) => (e.type === "protocolError" ? `${e.partition}:${e.code}` : ""));
    // Partition 2 was handed partition 1's frame and refused it; partition 1 timed out and redrove.
    expect(codes).toContain("2:WRONG_PARTITION");
    expect(codes).toContain("1:RESULT_TIMEOUT");
  });

  it("a sink that never answers times out and is redriven, never a silent wait", async () => {
    const inputs = makeMessages(2, 200);
    const run = await runVertex({ inputs, resultTimeoutMs: 100, sink: { misbehave: once("silent") } });
    assertSound(inputs, run);
    expect(protocolErrors(run).map((e) => (e.type === "protocolError" ? e.code : ""))).toContain("RESULT_TIMEOUT");
  });
});

describe("EOT protocol: joins across partitions", () => {
  it("an idle partition never blocks the aligned join", async () => {
    const inputs = makeMessages(4, [500, 500, 500, 0]);
    const run = await runVertex({
      inputs,
      readBatchSize: 50,
      readTimeoutMs: 20,
      openPartitions: [3],
      endOpenPartitionsAtMs: 5_000,
      sink: { latencyMs: { min: 1, max: 5 } },
    });
    assertSound(inputs, run);
    const beforeIdleEnded = run.commits.filter((commit) => commit.atMs < 5_000);
    expect(beforeIdleEnded.reduce((sum, commit) => sum + commit.messages, 0)).toBe(1_500);
  });

  it("a slow partition holds the others back by at most maxInflightEpochs (aligned)", async () => {
    const inputs = makeMessages(4, 400);
    const run = await runVertex({
      inputs,
      readBatchSize: 20,
      maxInflightEpochs: 2,
      sink: { latencyMs: (p) => (p === 3 ? { min: 40, max: 50 } : { min: 1, max: 2 }) },
    });
    assertSound(inputs, run);
    expect(run.maxInflightEpochs).toBe(2);
    // Every aligned epoch commits all partitions together, and the fast partitions never got
    // more than maxInflightEpochs ahead: each commit waited on the slow one's ~45ms.
    expect(run.commits.every((commit) => commit.partitions.length === 4)).toBe(true);
    const full = run.commits.filter((commit) => commit.messages === 80);
    expect(full.length).toBeGreaterThan(10);
    const gaps = full.slice(1).map((commit, i) => commit.atMs - full[i]!.atMs);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(35);
  });

  it("in partition mode a slow partition does not hold the others back", async () => {
    const inputs = makeMessages(2, 400);
    const run = await runVertex({
      inputs,
      commitMode: "partition",
      readBatchSize: 20,
      maxInflightEpochs: 2,
      sink: { latencyMs: { min: 1, max: 3 }, misbehave: (a) => (a.partition === 1 && a.attempt === 1 ? "silent" : undefined) },
      resultTimeoutMs: 200,
      retry: { onFailure: "retry", intervalMs: 1 },
    });
    assertSound(inputs, run);
    const fastDoneAt = Math.max(...run.commits.filter((c) => c.partitions.includes(0)).map((c) => c.atMs));
    const slowDoneAt = Math.max(...run.commits.filter((c) => c.partitions.includes(1)).map((c) => c.atMs));
    expect(fastDoneAt).toBeLessThan(slowDoneAt / 4);
  });
});
