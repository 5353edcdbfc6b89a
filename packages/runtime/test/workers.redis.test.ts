import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeMessage } from "../src/buffer/redis/encoding.js";
import { decodeFrame, FRAME_FIELD } from "../src/buffer/redis/frames.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
const recordingSink = fileURLToPath(new URL("./fixtures/recording-sink.mjs", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

describe.skipIf(url === undefined)("worker processes on one Redis", () => {
  const redisUrl = url as string;
  let dir: string;
  let redis: Redis;
  const prefixes: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-workers-"));
    redis = new Redis(redisUrl);
  });
  // A worker still running after its test (a failure or a timeout) is killed, and its stderr shown.
  const running = new Set<Worker & { stderr: () => string; label: string }>();
  afterEach(() => {
    for (const worker of running) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        console.error(`worker ${worker.label} still running after the test; its stderr:\n${worker.stderr().slice(-3000)}`);
        worker.child.kill("SIGKILL");
      }
    }
    running.clear();
  });
  afterAll(async () => {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });

  /** A spec: a bounded generator feeding a 4-partition sink that records into Redis. */
  async function pipelineSpec(total: number, rpu: number): Promise<{ file: string; prefix: string }> {
    const prefix = uniquePrefix("ww");
    prefixes.push(prefix);
    const file = path.join(dir, `${prefix}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: workers }",
        "spec:",
        `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix}, claimIdle: 1s }`,
        "  limits: { readBatchSize: 50, readTimeout: 20ms }",
        "  vertices:",
        `    - { name: in, source: { generator: { total: ${total}, rpu: ${rpu}, duration: 1s } } }`,
        `    - { name: out, partitions: 4, sink: { module: { path: "${recordingSink}" } } }`,
        "  edges:",
        "    - { from: in, to: out }",
        "",
      ].join("\n"),
    );
    return { file, prefix };
  }

  function startWorker(file: string, prefix: string, vertices: string, replica: string, env: Record<string, string> = {}): Worker {
    const trace = process.env["WEIR_WORKER_TRACE_DIR"] ? ["--trace", path.join(process.env["WEIR_WORKER_TRACE_DIR"], `${replica}-${Date.now()}.jsonl`)] : [];
    const child = spawn(process.execPath, [bin, "run", file, "--json", "--allow-modules-outside", "--log-level", process.env["WEIR_WORKER_LOG_LEVEL"] ?? "info", "--vertices", vertices, "--replica", replica, ...trace], {
      cwd: repoRoot,
      env: { ...process.env, WEIR_TEST_SINK_URL: redisUrl, WEIR_TEST_SINK_PREFIX: prefix, ...env },
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal, stderr })),
    );
    running.add({ child, exited, stderr: () => stderr, label: `${vertices}/${replica}` });
    return { child, exited };
  }

  async function delivered(prefix: string): Promise<{ ids: Set<string>; deliveries: Map<string, number> }> {
    const ids = new Set(await redis.smembers(`${prefix}:output`));
    const counts = await redis.hgetall(`${prefix}:deliveries`);
    return { ids, deliveries: new Map(Object.entries(counts).map(([id, n]) => [id, Number(n)])) };
  }

  /** The message ids of the entries of the sink vertex's partitions that `consumer` read and has not acked. */
  async function pendingIdsOf(prefix: string, consumer: string): Promise<string[]> {
    const ids: string[] = [];
    for (let p = 0; p < 4; p += 1) {
      const stream = `${prefix}:{workers.out.${p}}`;
      const entries = (await redis.xpending(stream, "workers.out", "-", "+", 100_000, consumer)) as Array<[string, string, number, number]>;
      for (const [entryId] of entries) {
        const [entry] = await redis.xrangeBuffer(stream, entryId, entryId);
        if (entry === undefined) continue;
        // Buffers are framed by default (issue 12): a frame's messages are pending with its entry,
        // but for the prefix acked for good (`:frame-progress`), which no re-read hands out again.
        const [field, bytes] = [entry[1][0]!.toString(), entry[1][1]!];
        if (field !== FRAME_FIELD) {
          ids.push(decodeMessage(bytes).id);
          continue;
        }
        const acked = Number((await redis.hget(`${stream}:frame-progress`, entryId)) ?? 0);
        ids.push(...decodeFrame(bytes, entryId).slice(acked).map((message) => message.id));
      }
    }
    return ids;
  }

  /** Entries of the sink vertex's partitions that `consumer` read and has not acked. */
  async function pendingOf(prefix: string, consumer: string): Promise<number> {
    let pending = 0;
    for (let p = 0; p < 4; p += 1) {
      const summary = (await redis.xpending(`${prefix}:{workers.out.${p}}`, "workers.out").catch(() => [0, null, null, null])) as [
        number,
        string | null,
        string | null,
        Array<[string, string]> | null,
      ];
      pending += Number((summary[3] ?? []).find(([name]) => name === consumer)?.[1] ?? 0);
    }
    return pending;
  }

  const expectedIds = (total: number) => Array.from({ length: total }, (_, i) => `in-0-${i}`);

  it("two sink workers and one source worker deliver every id", async () => {
    const total = 3_000;
    const { file, prefix } = await pipelineSpec(total, 3_000);
    const sinks = [startWorker(file, prefix, "out", "a"), startWorker(file, prefix, "out", "b")];
    const source = startWorker(file, prefix, "in", "src");
    const results = await Promise.all([source.exited, ...sinks.map((sink) => sink.exited)]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const { ids } = await delivered(prefix);
    expect([...ids].sort()).toEqual(expectedIds(total).sort());
  });

  // I5: a worker killed with SIGKILL loses nothing: a restart of the same replica re-reads its
  // pending entries; otherwise a live worker claims them once they are idle longer than claimIdle.
  it.each([
    { trial: 1, recovery: "restart" as const, killAfterMs: 50 },
    { trial: 2, recovery: "claim" as const, killAfterMs: 170 },
    { trial: 3, recovery: "restart" as const, killAfterMs: 290 },
  ])("trial $trial: a sink worker SIGKILLed mid-batch loses nothing ($recovery)", async ({ recovery, killAfterMs }) => {
    const total = 4_000;
    const { file, prefix } = await pipelineSpec(total, 2_000);
    // A slow sink keeps batches in flight, so the kill lands mid-batch.
    const slow = { WEIR_TEST_SINK_DELAY_MS: "30" };
    const victim = startWorker(file, prefix, "out", "a", slow);
    const survivor = startWorker(file, prefix, "out", "b", slow);
    const source = startWorker(file, prefix, "in", "src");
    // Kill once the pipeline is well under way, at a different point in each trial.
    while ((await redis.hlen(`${prefix}:deliveries`)) < 600) await sleep(20);
    await sleep(killAfterMs);
    // Freeze the victim, and kill it only while it holds entries it read but did not ack: a
    // frozen process cannot ack between the check and the kill.
    for (;;) {
      victim.child.kill("SIGSTOP");
      if ((await pendingOf(prefix, "workers-a")) > 0) break;
      victim.child.kill("SIGCONT");
      await sleep(5);
    }
    victim.child.kill("SIGKILL");
    const killed = await victim.exited;
    expect(killed.signal).toBe("SIGKILL");
    // The kill landed mid-batch: the dead consumer holds entries it read but never acked.
    expect(await pendingOf(prefix, "workers-a")).toBeGreaterThan(0);
    // Deliveries first, then what the dead worker still holds: the survivor may claim and deliver
    // its entries at any moment, and a delivery between the two reads would look like none.
    const deliveredAtKill = (await delivered(prefix)).deliveries;
    const held = await pendingIdsOf(prefix, "workers-a");
    const restarted = recovery === "restart" ? startWorker(file, prefix, "out", "a", slow) : undefined;
    const results = await Promise.all([source.exited, survivor.exited, ...(restarted === undefined ? [] : [restarted.exited])]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    if (recovery === "claim") expect(results[1]!.stderr).toContain("claimed entries of an idle consumer");
    const { ids, deliveries } = await delivered(prefix);
    expect([...ids].sort()).toEqual(expectedIds(total).sort());
    // Nothing the dead worker held was lost with it: each of its unacked messages reached the sink
    // again after the kill (through the restarted replica or a claim), whether or not it had before.
    expect(held.length).toBeGreaterThan(0);
    const notRedelivered = held.filter((id) => (deliveries.get(id) ?? 0) <= (deliveredAtKill.get(id) ?? 0));
    expect(notRedelivered, "messages the SIGKILLed worker held that never reached the sink again").toEqual([]);
  });
});
