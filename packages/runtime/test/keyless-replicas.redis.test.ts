/**
 * Issue #10 item 1 (DESIGN §10): keyless messages re-forwarded after a map worker is SIGKILLed
 * must land on the partition whose dedup set saw them, so a sink that is never faulted receives
 * every message exactly once. Real worker processes, real SIGKILLs, real Redis.
 */
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "./support/redis-server.js";
import { baseSeed, scenarioFixture } from "../../../faults/support/harness.js";
import { runMapReplicaTrial } from "../../../faults/support/map-replica-trial.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("keyless messages through two map replicas", () => {
  const fixture = scenarioFixture(url, "keyless");

  it("SIGKILLed map replicas, restarted: the never-faulted sink sees every keyless message once", async () => {
    const total = 6_000;
    const result = await runMapReplicaTrial({ fixture, mode: "kill", seed: baseSeed + 1001, total, rpu: 1_000, faults: 4 });
    for (const exit of result.exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(result.faultsDone).toBeGreaterThan(0);
    expect(result.figures.lostIds).toEqual([]);
    expect(result.figures.duplicatedBeforeDedup).toBe(0);
    expect(result.figures.duplicatedAfterDedup).toBe(0);
  }, 240_000);
});
