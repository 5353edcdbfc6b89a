import { describe, expect, it } from "vitest";
import { replayTrace } from "../src/observability/trace-replay.js";
import { traceFormat, type TraceRecord } from "../src/observability/trace-format.js";

// Issue 12 moved a reader's reads and acks into one long-lived `readerIo` actor: a v1 trace's
// `readBatch`/`ackOffsets` invocations no longer exist in the machines, so its replay would only
// diverge at the first read. The replay refuses it up front and says why.
describe("trace format versions", () => {
  it("refuses a v1 trace with the reason and what to do", async () => {
    const v1 = [{ k: "header", format: "weir.trace/v1", startedAt: "2026-12-01T00:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v1)).rejects.toThrow(
      /trace format 'weir\.trace\/v1' is not supported: .*readBatch\/ackOffsets.*replay it with the Weir version that recorded it.*this replay reads weir\.trace\/v7/,
    );
  });

  // The sink session's writer is one long-lived actor now (sinkWriter.write requests): a v2 trace
  // expects one `sinkWriter` invocation per attempt, which these machines never make.
  it("refuses a v2 trace (one sinkWriter invocation per attempt) with the reason", async () => {
    const v2 = [{ k: "header", format: "weir.trace/v2", startedAt: "2026-12-05T00:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v2)).rejects.toThrow(/trace format 'weir\.trace\/v2' is not supported: .*sinkWriter.*per attempt.*record the run again/);
  });

  // The batcher sends an epoch's data on its EOT and rests in eotSent after a close (issue 12): a
  // v3 trace expects a batcher.data step per epoch and the batcher back in collecting.
  it("refuses a v3 trace (data in batcher.data frames) with the reason", async () => {
    const v3 = [{ k: "header", format: "weir.trace/v3", startedAt: "2026-12-05T12:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v3)).rejects.toThrow(/trace format 'weir\.trace\/v3' is not supported: .*batcher\.data.*record the run again.*this replay reads weir\.trace\/v7/);
  });

  // A reader's readerIo hands reads to the batcher itself (issue 12): a v4 trace feeds every read
  // to the reader, which no longer hands reads over.
  it("refuses a v4 trace (every read through the reader) with the reason", async () => {
    const v4 = [{ k: "header", format: "weir.trace/v4", startedAt: "2026-12-05T20:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v4)).rejects.toThrow(/trace format 'weir\.trace\/v4' is not supported: .*readerIo hands reads to the batcher itself.*record the run again.*this replay reads weir\.trace\/v7/);
  });

  // A sink session's answer decides on its own step and rests in eotReceived, and a seal extends a
  // reader's running grant (issue 12, session 8): a v5 trace has neither.
  it("refuses a v5 trace (a session back in idle, a grant per seal) with the reason", async () => {
    const v5 = [{ k: "header", format: "weir.trace/v5", startedAt: "2026-12-05T23:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v5)).rejects.toThrow(/trace format 'weir\.trace\/v5' is not supported: .*sink session.*eotReceived.*reader\.credit.*record the run again.*this replay reads weir\.trace\/v7/);
  });

  // One session's changes (issue 12, session 9): a batcher's close is one step, into flushing or
  // eotSent, and a supervisor's running state is one region, and a reader's commit queue is context, not a
  // region; a v6 trace has none of them.
  it("writes v7 and refuses a v6 trace (a close in two steps, a parallel supervisor, a reader's commit region) with the reason", async () => {
    expect(traceFormat).toBe("weir.trace/v7");
    const v6 = [{ k: "header", format: "weir.trace/v6", startedAt: "2026-12-06T02:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v6)).rejects.toThrow(/trace format 'weir\.trace\/v6' is not supported: .*batcher's close.*eventless.*supervisor.*parallel.*reader.*commit region.*record the run again.*this replay reads weir\.trace\/v7/);
  });
});
