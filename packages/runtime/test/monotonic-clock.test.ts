import { readdir, readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createJsonLogger } from "@weir/runtime";
import { ProcessWorker } from "../src/connectors/process/process-worker.js";
import { createClaimSchedule } from "../src/pipeline/claim-schedule.js";

const HOUR_MS = 3_600_000;
const packagesDir = fileURLToPath(new URL("../../", import.meta.url));

/** Steps the wall clock (`Date.now`) by `offsetMs` from now on; `performance.now` is untouched. */
function stepWallClock(offsetMs: number): void {
  const real = Date.now.bind(Date);
  const current = vi.isMockFunction(Date.now) ? (Date.now as () => number)() - real() : 0;
  vi.spyOn(Date, "now").mockImplementation(() => real() + current + offsetMs);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("elapsed time runs on the monotonic clock (issue #10 item 6)", () => {
  it.each([
    { step: "back", offsetMs: -HOUR_MS },
    { step: "forward", offsetMs: HOUR_MS },
  ])("a claim cycle that is pending when the wall clock steps $step an hour still comes due", async ({ offsetMs }) => {
    // claimIdle 2 s: a try every 500 ms, wide enough that "not yet" holds on a loaded machine.
    const schedule = createClaimSchedule(2_000);
    expect(schedule.isDue(0)).toBe(true);
    expect(schedule.isDue(0)).toBe(false);
    stepWallClock(offsetMs);
    // Due again once claimIdle / 4 of real time has passed — not an hour later.
    await vi.waitFor(() => expect(schedule.isDue(0)).toBe(true), { timeout: 20_000, interval: 20 });
    // …and not at once either when the clock jumps forward: the cycle keeps its pace.
    expect(schedule.isDue(0)).toBe(false);
  });

  describe("process restarts", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "weir-clock-"));
      await writeFile(path.join(dir, "exits.mjs"), "process.exit(3);\n");
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.each([
      { step: "back", offsetMs: -HOUR_MS },
      { step: "forward", offsetMs: HOUR_MS },
    ])("a restart that is pending when the wall clock steps $step an hour waits its backoff, no more", async ({ offsetMs }) => {
      const delays: number[] = [];
      const logger = createJsonLogger({
        level: "info",
        write: (line) => {
          const entry = JSON.parse(line) as { msg: string; delayMs?: number };
          if (entry.msg === "restarting the process after a backoff" && entry.delayMs !== undefined) delays.push(entry.delayMs);
        },
      });
      const worker = new ProcessWorker("out", 0, "sink", { command: [process.execPath, "exits.mjs"], cwd: dir, partitions: 1, restartBackoff: { interval: 200, factor: 2, cap: 1_000 } }, logger);
      const crashes: string[] = [];
      const attempt = (n: number) =>
        new Promise<void>((resolve) => {
          const release = worker.begin({ epoch: 1, attempt: n, messages: [] }, { onSent: () => undefined, onFrame: () => undefined, onCrash: (reason) => (crashes.push(reason), release(), resolve()) });
        });
      try {
        await attempt(1);
        stepWallClock(offsetMs);
        await attempt(2);
        expect(crashes).toHaveLength(2);
        // The second start waited for the backoff (≤ its interval), never the clock's step.
        expect(delays).toHaveLength(1);
        expect(delays[0]).toBeGreaterThan(0);
        expect(delays[0]).toBeLessThanOrEqual(200);
      } finally {
        await worker.close();
      }
    }, 30_000);
  });

  it("keeps Date.now() in the runtime's sources for timestamps only", async () => {
    // Every Date.now() left in packages/*/src, by file: each one must be a timestamp that leaves
    // the process (eventTime, a log time), never a duration. A new one needs a reason here.
    const allowed: Record<string, string> = {
      "runtime/src/connectors/generator-source.ts": "eventTime of generated messages",
      "runtime/src/time/wall-clock.ts": "event time: source watermarks' idle cap, watermark lag (issue #13)",
      // Landed from the dashboard branch with the merge of main; times shown or sent to Redis. Not audited here.
      "runtime/src/ui/live-sampler.ts": "dashboard sample times",
      "runtime/src/ui/event-ring.ts": "dashboard event times",
      "runtime/src/ui/run-ui.ts": "dashboard snapshot time",
      "runtime/src/ui/attach-dashboard.ts": "dashboard snapshot time",
      "runtime/src/ui/worker-heartbeat.ts": "heartbeat times other processes read",
    };
    const found: string[] = [];
    for (const pkg of await readdir(packagesDir)) {
      const src = path.join(packagesDir, pkg, "src");
      const files = await readdir(src, { recursive: true }).catch(() => [] as string[]);
      for (const file of files.filter((name) => name.endsWith(".ts"))) {
        const text = await readFile(path.join(src, file), "utf8");
        const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
        if (/Date\.now\b/.test(code)) found.push(`${pkg}/src/${file}`);
      }
    }
    expect(found.filter((file) => !(file in allowed))).toEqual([]);
  });
});
