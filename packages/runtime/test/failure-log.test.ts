import { afterEach, describe, expect, it, vi } from "vitest";
import { createFailureLog } from "../src/observability/failure-log.js";
import { createJsonLogger } from "../src/observability/logger.js";

describe("failure log", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes one line per vertex and kind per interval, with count, first and last reason and attempts, and the rest on close", () => {
    vi.useFakeTimers();
    const lines: Array<Record<string, unknown>> = [];
    const log = createFailureLog(createJsonLogger({ level: "warn", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }), { intervalMs: 5_000 });
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      for (let i = 0; i < 715; i += 1) log.record("map", "udfFailed", 1, `boom ${i}`, attempt);
    }
    log.record("map", "dropped", 715, "retries exhausted");
    log.record("out", "deduped", 2, "ids already in out[0]");
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(5_000);
    expect(lines.map((line) => [line["vertex"], line["count"]])).toEqual([["map", 2_145], ["map", 715], ["out", 2]]);
    expect(lines[0]).toMatchObject({ firstReason: "boom 0", lastReason: "boom 714", attempts: "1-3" });
    expect(lines[1]).toMatchObject({ firstReason: "retries exhausted" });
    expect(lines[1]).not.toHaveProperty("lastReason");
    expect(log.lastFailure("map")).toBe("boom 714");
    vi.advanceTimersByTime(20_000);
    expect(lines).toHaveLength(3); // nothing new, nothing written
    log.record("map", "udfFailed", 1, "late", 1);
    log.close();
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ vertex: "map", count: 1, firstReason: "late", attempts: 1 });
  });
});
