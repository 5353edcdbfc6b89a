/**
 * Acceptance of issue #15 part 1: a rate limit with a redis store holds across every worker
 * process of a vertex. Three `weir run --vertices out` processes share `max: 500`; the sink's
 * arrival times say how fast the vertex read in aggregate, during the ramp and after it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
const sink = fileURLToPath(new URL("./fixtures/timestamp-sink.mjs", import.meta.url));

const MAX = 500;
const MIN = 10;
const RAMP_S = 5;
const WINDOW_S = 30;
// The ramp (~1,300), the window (15,000) and a margin, so the window ends before the data does.
const TOTAL = 20_000;

describe.skipIf(url === undefined)("rate limit across worker processes (redis store)", () => {
  const redisUrl = url as string;
  let dir: string;
  let redis: Redis;
  const prefix = uniquePrefix("rl");

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-rate-"));
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
    await deleteKeys(redisUrl, `${prefix}*`);
  });

  function run(file: string, vertices: string, replica: string): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [bin, "run", file, "--json", "--allow-modules-outside", "--vertices", vertices, "--replica", replica], {
      cwd: repoRoot,
      env: { ...process.env, WEIR_TEST_SINK_URL: redisUrl, WEIR_TEST_SINK_PREFIX: prefix },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
  }

  it(`3 workers with max ${MAX} read ${MAX} msg/s ± 10 % in aggregate over ${WINDOW_S} s, after a visible ramp`, async () => {
    const file = path.join(dir, "rate.yaml");
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: rate }",
        "spec:",
        `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix} }`,
        "  limits: { readBatchSize: 50, readTimeout: 50ms }",
        "  vertices:",
        `    - { name: in, source: { generator: { total: ${TOTAL}, rpu: 50000, duration: 1s } } }`,
        "    - name: out",
        "      partitions: 4",
        `      limits: { rateLimit: { max: ${MAX}, min: ${MIN}, rampUpDuration: ${RAMP_S}s, store: { redis: {} } } }`,
        `      sink: { module: { path: "${sink}" } }`,
        "  edges:",
        "    - { from: in, to: out }",
        "",
      ].join("\n"),
    );
    // The input is all there before any reader starts, so the readers are never short of data.
    const source = await run(file, "in", "src");
    expect(source.code, source.stderr).toBe(0);
    const workers = await Promise.all(["a", "b", "c"].map((replica) => run(file, "out", replica)));
    for (const worker of workers) expect(worker.code, worker.stderr.slice(-3000)).toBe(0);

    const arrivals = (await redis.lrange(`${prefix}:arrivals`, 0, -1)).map((line) => {
      const [at, count, pid] = line.split(" ").map(Number) as [number, number, number];
      return { at, count, pid };
    });
    expect(arrivals.reduce((sum, arrival) => sum + arrival.count, 0)).toBe(TOTAL);
    const start = Math.min(...arrivals.map((arrival) => arrival.at));
    const within = (from: number, to: number) =>
      arrivals.filter((arrival) => arrival.at >= start + from * 1000 && arrival.at < start + to * 1000).reduce((sum, arrival) => sum + arrival.count, 0);

    // The ramp: well below max in the first second, rising after.
    const perSecond = Array.from({ length: RAMP_S }, (_, second) => within(second, second + 1));
    console.log(`rate limit acceptance: per second during the ramp ${perSecond.join(", ")}`);
    // Batches land in the second their epoch commits, so single seconds jitter by ±150: compare pairs.
    const [s0, s1, , s3, s4] = perSecond as [number, number, number, number, number];
    expect(s0).toBeLessThan(MAX * 0.4);
    expect(s3 + s4).toBeGreaterThan(1.5 * (s0 + s1));
    // The whole ramp (~1,300 by the ramp's area) well below RAMP_S seconds at max (2,500).
    expect(perSecond.reduce((sum, count) => sum + count, 0)).toBeLessThan(RAMP_S * MAX * 0.75);

    // After the ramp (and a second's burst of the bucket), over WINDOW_S seconds.
    const from = RAMP_S + 1;
    const last = Math.max(...arrivals.map((arrival) => arrival.at));
    expect(last, "the data ran out before the window ended: raise TOTAL").toBeGreaterThan(start + (from + WINDOW_S) * 1000);
    const rate = within(from, from + WINDOW_S) / WINDOW_S;
    const byWorker = new Map<number, number>();
    for (const arrival of arrivals) byWorker.set(arrival.pid, (byWorker.get(arrival.pid) ?? 0) + arrival.count);
    console.log(`rate limit acceptance: ${rate.toFixed(1)} msg/s over ${WINDOW_S} s; per worker ${[...byWorker.values()].join(", ")}`);
    expect(rate).toBeGreaterThanOrEqual(MAX * 0.9);
    expect(rate).toBeLessThanOrEqual(MAX * 1.1);
    // All three workers read: the limit held in aggregate, not per process.
    expect(byWorker.size).toBe(3);
    for (const count of byWorker.values()) expect(count).toBeGreaterThan(TOTAL * 0.1);
  }, 240_000);
});
