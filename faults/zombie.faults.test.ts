/**
 * Scenario "zombie": a map replica is frozen (SIGSTOP) while it holds entries, stays frozen until
 * the other replica has claimed them (claimIdle) and finished the whole vertex, then is woken
 * (SIGCONT). Nothing may be lost or doubled after dedup, and the woken replica must not report as
 * dropped what the other one wrote: its summary counts it `deduped` (issue #10 item 8).
 */
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, recordFigures, scenarioFixture } from "./support/harness.js";
import { runMapReplicaTrial } from "./support/map-replica-trial.js";

const url = redisTestUrl();
const trials = Number(process.env["WEIR_FAULTS_ZOMBIE_TRIALS"] ?? "2");

describe.skipIf(url === undefined)("a map replica frozen past claimIdle", () => {
  const fixture = scenarioFixture(url, "zombie");

  it.each(Array.from({ length: trials }, (_, i) => ({ trial: i + 1 })))("zombie.$trial SIGSTOP of a map replica until the other finished", async ({ trial }) => {
    const seed = baseSeed + 950 + trial;
    const total = 4_000;
    const result = await runMapReplicaTrial({ fixture, mode: "zombie", seed, total, rpu: 1_000, faults: 1 });
    const zombie = result.mapSummaries.get("zombie");
    recordFigures({
      scenario: "zombie",
      trial: `t${trial} (woken: ${zombie === undefined ? "no summary" : `dropped ${zombie.dropped}, deduped ${zombie.deduped ?? "?"}`})`,
      seed,
      messagesIn: total,
      ...result.figures,
      protocolErrors: result.protocolErrors,
      maxStallMs: 0,
      exactlyOnce: true,
    });
    for (const exit of result.exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(result.zombie?.code, result.zombie?.stderr.slice(-3000)).toBe(0);
    expect(result.figures.lostIds).toEqual([]);
    expect(result.figures.duplicatedAfterDedup).toBe(0);
    expect(zombie?.dropped, JSON.stringify(zombie)).toBe(0);
    expect(zombie!.ok).toBe(zombie!.written + (zombie!.deduped ?? 0));
  }, 300_000);
});
