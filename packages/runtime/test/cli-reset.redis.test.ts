/**
 * Running a bounded pipeline on Redis again: its end-of-stream markers outlive the first run, so
 * the second one must finish at once and say how to start over (it used to retry its writes into
 * the ended streams forever), and `weir reset` must delete the keys so a third run processes
 * everything again.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boundedSpecText } from "./support/bounded-spec.js";
import { findRedisServer, startRedisServer, type RedisServer } from "./support/redis-server.js";
import { ensureBuilt, startWeir } from "./support/weir-cli.js";

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `weir args`, killed after `guardMs` (code null then). */
async function weir(args: readonly string[], guardMs = 30_000): Promise<Outcome> {
  const run = startWeir(args);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), guardMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const summaryOf = (outcome: Outcome) =>
  JSON.parse(outcome.stdout.trim().split("\n").pop()!) as { status: string; vertices: Record<string, { read: number; acked: number }> };

describe.skipIf(findRedisServer() === undefined)("weir run twice on the same Redis keys, and weir reset", () => {
  let server: RedisServer;
  let redis: Redis;
  let dir: string;
  let file: string;
  const streams = ["again:{again.out.0}", "again:{again.out.1}"];

  beforeAll(async () => {
    ensureBuilt();
    server = await startRedisServer();
    redis = new Redis(server.url);
    dir = await mkdtemp(path.join(tmpdir(), "weir-reset-"));
    file = path.join(dir, "again.yaml");
    await writeFile(file, boundedSpecText({ name: "again", buffer: `{ type: redis, url: "${server.url}", keyPrefix: again }`, total: 200 }));
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a second run finishes at once, sends nothing and says to reset; reset deletes the keys; a third run sends everything", async () => {
    const first = await weir(["run", file, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(summaryOf(first).vertices["out"]!.acked).toBe(200);

    const second = await weir(["run", file, "--json"]);
    expect(second.code, "the second run must end by itself (it used to hang)").toBe(0);
    expect(summaryOf(second)).toMatchObject({ status: "completed", vertices: { in: { read: 0 }, out: { read: 0 } } });
    expect(second.stderr).toMatch(/source ended in an earlier run.*weir reset <spec> --yes/);

    // An ordered vertex's lease, as a SIGKILLed holder leaves it (flow/ordered-lease.ts): until it
    // expires, the next run's worker would stand by. The spec may have been ordered in an earlier run.
    await redis.set("again:{again}:ordered:out", "killed-worker", "PX", 600_000);

    const dryRun = await weir(["reset", file]);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(/would delete \d+ keys of pipeline 'again' \(keyPrefix again\)/);
    expect(dryRun.stdout).toContain("again:{again.out.0}:eos");
    expect(dryRun.stdout).toContain("again:{again}:ordered:out");
    expect(await redis.exists(`${streams[0]}:eos`)).toBe(1);

    const reset = await weir(["reset", file, "--yes"]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/deleted \d+ keys/);
    expect(await redis.exists(...streams, ...streams.map((stream) => `${stream}:eos`), ...streams.map((stream) => `${stream}:dedup`))).toBe(0);
    // The dashboard's record of the first runs' workers goes too: a reset pipeline starts with none.
    expect(await redis.exists("again:{again}:workers", "again:{again}:spec", "again:{again}:ordered:out")).toBe(0);
    expect((await weir(["reset", file, "--yes"])).stdout).toMatch(/nothing to reset/);

    const third = await weir(["run", file, "--json"]);
    expect(third.code, third.stderr).toBe(0);
    expect(summaryOf(third).vertices["out"]!.acked).toBe(200);
  }, 90_000);

  it("refuses while a worker of the pipeline is connected", async () => {
    const slow = path.join(dir, "slow.yaml");
    await writeFile(slow, boundedSpecText({ name: "slow", buffer: `{ type: redis, url: "${server.url}", keyPrefix: slow }`, total: 20_000 }).replace("rpu: 40000", "rpu: 50"));
    const worker = startWeir(["run", slow, "--json"]);
    try {
      // Under way: its sink's stream exists.
      const deadline = Date.now() + 20_000;
      while ((await redis.exists("slow:{slow.out.0}")) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await weir(["reset", slow, "--yes"]);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/workers of pipeline 'slow' \(keyPrefix slow\) are still connected \(.*weir:slow:cmd\); stop them first, or pass --force/);
      expect(await redis.exists("slow:{slow.out.0}")).toBe(1);
    } finally {
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
  }, 60_000);

  it("has nothing to reset on a memory buffer", async () => {
    const memory = path.join(dir, "memory.yaml");
    await writeFile(memory, boundedSpecText({ name: "memory", buffer: "{ type: memory }", total: 10 }));
    const outcome = await weir(["reset", memory, "--yes"]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/uses the memory buffer/);
  });
});
