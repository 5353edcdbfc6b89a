/**
 * Issue #10 item 8: a map replica frozen (SIGSTOP) long enough for the other replica to claim
 * its entries and finish the vertex, then woken (SIGCONT). What it then cannot write was written
 * by the other replica: its summary must say so (`deduped`), never `dropped`, and it exits 0.
 */
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "./support/redis-server.js";
import { baseSeed, scenarioFixture } from "../../../faults/support/harness.js";
import { runMapReplicaTrial } from "../../../faults/support/map-replica-trial.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("a map replica frozen past claimIdle", () => {
  const fixture = scenarioFixture(url, "zombie");

  it("reports what another replica finished as deduped, not dropped, and nothing is lost or doubled", async () => {
    // ~6 s at 1,000/s: the freeze needs a moment when a replica holds entries, and on a loaded machine
    // (the whole suite beside it) a 3,000-message run once ended before the poll saw one (faultsDone 0).
    const total = 6_000;
    const result = await runMapReplicaTrial({ fixture, mode: "zombie", seed: baseSeed + 1002, total, rpu: 1_000, faults: 1 });
    for (const exit of result.exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(result.faultsDone).toBe(1);
    expect(result.zombie?.code, result.zombie?.stderr.slice(-3000)).toBe(0);
    const zombie = result.mapSummaries.get("zombie");
    expect(zombie, result.zombie?.stdout).toBeDefined();
    expect(zombie!.dropped, JSON.stringify(zombie)).toBe(0);
    expect(result.figures.lostIds).toEqual([]);
    expect(result.figures.duplicatedAfterDedup).toBe(0);
    // Every message it settled was written, or counted and said as written by the other replica.
    expect(zombie!.ok, JSON.stringify(zombie)).toBe(zombie!.written + zombie!.deduped!);
    if (zombie!.deduped! > 0) expect(result.zombie!.stderr).toMatch(/"msg":"messages not written again[^\n]*"vertex":"map"[^\n]*another worker of 'map' finished/);
  }, 240_000);
});
