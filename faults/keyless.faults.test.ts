/**
 * Scenario "keyless": a generator without keys feeds two map replicas that are SIGKILLed
 * several times mid-run (restarted under the same --replica); the sink is never faulted. Every
 * re-forwarded message must land on the partition whose dedup set saw it (DESIGN §10), so the
 * sink receives each id once: lost = 0, duplicates = 0 before and after dedup.
 */
import { describe, expect, it } from "vitest";
import { redisTestUrl } from "../packages/runtime/test/support/redis-server.js";
import { baseSeed, recordFigures, scenarioFixture } from "./support/harness.js";
import { runMapReplicaTrial } from "./support/map-replica-trial.js";

const url = redisTestUrl();
const trials = Number(process.env["WEIR_FAULTS_KEYLESS_TRIALS"] ?? "2");

describe.skipIf(url === undefined)("keyless messages, map replicas killed", () => {
  const fixture = scenarioFixture(url, "keyless");

  it.each(Array.from({ length: trials }, (_, i) => ({ trial: i + 1 })))("keyless.$trial SIGKILL of map replicas, keyless", async ({ trial }) => {
    const seed = baseSeed + 900 + trial;
    const total = 10_000;
    const result = await runMapReplicaTrial({ fixture, mode: "kill", seed, total, rpu: 1_500, faults: 6 });
    recordFigures({
      scenario: "keyless",
      trial: `t${trial} (${result.faultsDone} kills)`,
      seed,
      messagesIn: total,
      ...result.figures,
      protocolErrors: result.protocolErrors,
      maxStallMs: 0,
      exactlyOnce: true,
    });
    for (const exit of result.exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(result.figures.lostIds).toEqual([]);
    // The sink is never faulted: any second delivery came from a re-forward that missed dedup.
    expect(result.figures.duplicatedBeforeDedup).toBe(0);
    expect(result.figures.duplicatedAfterDedup).toBe(0);
  }, 300_000);
});
