import { describe, expect, it } from "vitest";
import {
  assertEveryInputDelivered,
  assertNothingAckedBeforeResult,
  assertNothingAckedTwice,
  assertPartitionsKeptApart,
  makeMessages,
  runVertex,
} from "@weir/testkit";

// numaflow#2516: a 4-partition sink stopped for good after an EOT because the partitions shared
// one sink stream. Here every partition has its own session, and this run must finish.
describe("seed regression: a 4-partition sink answering in random order with random latency", () => {
  it("delivers 20,000 messages, commits every partition, never stalls", async () => {
    const inputs = makeMessages(4, 5_000);
    const run = await runVertex({
      inputs,
      readBatchSize: 200,
      maxInflightEpochs: 3,
      sink: { seed: 7, latencyMs: { min: 0, max: 40 }, chunks: 8 },
      timeLimitMs: 120_000,
    });
    assertEveryInputDelivered(inputs, run.log);
    assertNothingAckedBeforeResult(run.log);
    assertNothingAckedTwice(run.log);
    assertPartitionsKeptApart(inputs, run.log);
    expect(run.output.status).toBe("completed");
    expect(run.output.partitions.map((p) => p.ok)).toEqual([5000, 5000, 5000, 5000]);
    // Several epochs were in flight at once: some epoch closed before the previous committed.
    expect(run.commits.length).toBeGreaterThan(20);
  });
});
