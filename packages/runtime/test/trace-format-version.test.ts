import { describe, expect, it } from "vitest";
import { replayTrace } from "../src/observability/trace-replay.js";
import { traceFormat, type TraceRecord } from "../src/observability/trace-format.js";

// Issue 12 moved a reader's reads and acks into one long-lived `readerIo` actor: a v1 trace's
// `readBatch`/`ackOffsets` invocations no longer exist in the machines, so its replay would only
// diverge at the first read. The replay refuses it up front and says why.
describe("trace format versions", () => {
  it("writes v2 and refuses a v1 trace with the reason and what to do", async () => {
    expect(traceFormat).toBe("weir.trace/v2");
    const v1 = [{ k: "header", format: "weir.trace/v1", startedAt: "2026-12-01T00:00:00.000Z", payloads: "omit", events: false }] as unknown as TraceRecord[];
    await expect(replayTrace(v1)).rejects.toThrow(
      /trace format 'weir\.trace\/v1' is not supported: .*readBatch\/ackOffsets.*replay it with the Weir version that recorded it.*this replay reads weir\.trace\/v2/,
    );
  });
});
