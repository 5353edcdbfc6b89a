/**
 * Vertices whose sink answers `ok` for every message — the common case, which `fromSinkFunction`
 * turns into one `sinkIo.allOk` frame per attempt instead of per-message results — over drawn
 * partitions, limits and commit modes: every input is answered, acked once and by its own
 * partition, and the in-flight limit holds (invariants I1–I3 of DESIGN §2.2 for that path).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromSinkFunction, type CommitMode, type SinkResult } from "@weir/actors";
import { assertNothingAckedTwice, assertPartitionsKeptApart, makeMessages, runVertex } from "@weir/testkit";

const scenario = fc.record({
  messages: fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 5 }),
  commitMode: fc.constantFrom<CommitMode>("aligned", "partition"),
  readBatchSize: fc.integer({ min: 1, max: 64 }),
  readTimeoutMs: fc.integer({ min: 1, max: 50 }),
  maxInflightEpochs: fc.integer({ min: 1, max: 4 }),
});

describe("an all-ok sink (sinkIo.allOk) over drawn vertices", () => {
  it("answers, acks once and keeps partitions apart, within maxInflightEpochs", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (drawn) => {
        const inputs = makeMessages(drawn.messages.length, drawn.messages);
        const answered = new Map<string, number>();
        const sinkWriter = fromSinkFunction(async (messages, ctx): Promise<SinkResult[]> => {
          for (const message of messages) answered.set(message.id, ctx.partition);
          return messages.map((message) => ({ id: message.id, status: "ok" }));
        });
        const run = await runVertex({
          inputs,
          sinkWriter,
          commitMode: drawn.commitMode,
          readBatchSize: drawn.readBatchSize,
          readTimeoutMs: drawn.readTimeoutMs,
          maxInflightEpochs: drawn.maxInflightEpochs,
          timeLimitMs: 60_000,
        });
        expect(run.output.status).toBe("completed");
        expect(run.output.partitions.map((p) => ({ messages: p.messages, ok: p.ok, acked: p.acked, protocolErrors: p.protocolErrors, retries: p.retries }))).toEqual(
          inputs.map((messages) => ({ messages: messages.length, ok: messages.length, acked: messages.length, protocolErrors: 0, retries: 0 })),
        );
        // Every input was answered by its own partition's session, and acked once by its own reader.
        inputs.forEach((messages, partition) => messages.forEach((message) => expect(answered.get(message.id)).toBe(partition)));
        expect(run.log.ackedIds().sort()).toEqual(inputs.flat().map((message) => message.id).sort());
        assertNothingAckedTwice(run.log);
        assertPartitionsKeptApart(inputs, run.log);
        const peak = drawn.commitMode === "aligned" ? run.maxInflightEpochs : run.maxInflightEpochsPerPartition;
        expect(peak).toBeLessThanOrEqual(drawn.maxInflightEpochs);
      }),
      { numRuns: 40, seed: 61 },
    );
  });
});
