/**
 * Two deployments with the same pipeline name and keyPrefix used to share every Redis key (one's
 * messages went to the other's sink). The first run records its spec's fingerprint beside the
 * buffers; a run of another spec refuses to start, naming both and the fix; runs of the same spec
 * start; `weir reset` deletes the fingerprint with the buffers.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boundedSpecText } from "./support/bounded-spec.js";
import { findRedisServer, startRedisServer, type RedisServer } from "./support/redis-server.js";
import { ensureBuilt, startWeir } from "./support/weir-cli.js";

async function weir(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startWeir(args);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe.skipIf(findRedisServer() === undefined)("two specs with one pipeline name and keyPrefix", () => {
  let server: RedisServer;
  let redis: Redis;
  let dir: string;
  beforeAll(async () => {
    ensureBuilt();
    server = await startRedisServer();
    redis = new Redis(server.url);
    dir = await mkdtemp(path.join(tmpdir(), "weir-fingerprint-"));
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the second spec refuses to start with both fingerprints and the fix; the same spec starts; reset frees the keys", async () => {
    const buffer = `{ type: redis, url: "${server.url}", keyPrefix: twin }`;
    const first = path.join(dir, "first.yaml");
    const second = path.join(dir, "second.yaml");
    await writeFile(first, boundedSpecText({ name: "twin", buffer, total: 100 }));
    await writeFile(second, boundedSpecText({ name: "twin", buffer, total: 100 }).replace("partitions: 2", "partitions: 3"));

    const a = await weir(["run", first, "--json"]);
    expect(a.code, a.stderr).toBe(0);
    const stored = JSON.parse((await redis.get("twin:{twin}:spec")) ?? "null") as { fingerprint: string; file: string };
    expect(stored).toMatchObject({ fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/), file: first });

    const b = await weir(["run", second, "--json"]);
    expect(b.code).toBe(1);
    expect(b.stdout).toBe("");
    const line = b.stderr.trim();
    expect(line).toMatch(/^weir: the Redis keys of pipeline 'twin' \(keyPrefix twin\) belong to another spec/);
    expect(line).toContain(`${first} (fingerprint ${stored.fingerprint}: in, out[2]`);
    expect(line).toMatch(new RegExp(`this is ${second.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(fingerprint (?!${stored.fingerprint})[0-9a-f]{16}: in, out\\[3\\]`));
    expect(line).toMatch(/spec\.buffer\.keyPrefix.*weir reset <its spec> --yes/);
    // Nothing of the second spec was written: its third partition does not exist.
    expect(await redis.exists("twin:{twin.out.2}")).toBe(0);

    // The same spec (another worker, or a restart) starts.
    const again = await weir(["run", first, "--json"]);
    expect(again.code, again.stderr).toBe(0);

    const reset = await weir(["reset", first, "--yes"]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(await redis.exists("twin:{twin}:spec")).toBe(0);
    const c = await weir(["run", second, "--json"]);
    expect(c.code, c.stderr).toBe(0);
    expect((JSON.parse(c.stdout.trim()) as { vertices: { out: { acked: number } } }).vertices.out.acked).toBe(100);
  }, 120_000);
});
