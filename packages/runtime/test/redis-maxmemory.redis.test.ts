/**
 * Redis under `maxmemory` (noeviction), as production Redis is often run: buffer writes must be
 * refused before they write (not once a Lua script already wrote: Redis grew to 3× its limit),
 * the refusal is backpressure (a full buffer, retried per onFull), and the end-of-stream marker
 * refused for memory is retried, so the run completes with every message delivered.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createJsonLogger, createPipeline, parseSpec } from "@weir/runtime";
import { findRedisServer, startRedisServer, type RedisServer } from "./support/redis-server.js";

/** Memory Redis may use above its baseline for the buffers. */
const BUDGET = 3 * 1024 * 1024;
/** What one refused-too-late write could add: a write script's batch (50 × 2 KiB) and its query buffer, with room to spare. */
const MARGIN = 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function memoryInfo(redis: Redis): Promise<{ used: number; peak: number }> {
  const info = await redis.info("memory");
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return { used: field("used_memory"), peak: field("used_memory_peak") };
}

describe.skipIf(findRedisServer() === undefined)("a pipeline on Redis under maxmemory (noeviction)", () => {
  let server: RedisServer;
  let admin: Redis;
  let dir: string;
  beforeAll(async () => {
    server = await startRedisServer({ args: ["--maxmemory-policy", "noeviction"] });
    admin = new Redis(server.url);
    dir = await mkdtemp(path.join(tmpdir(), "weir-maxmemory-"));
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("completes with every message delivered while Redis's used memory stays within maxmemory", async () => {
    const baseline = (await memoryInfo(admin)).used;
    const maxmemory = baseline + BUDGET;
    await admin.config("SET", "maxmemory", String(maxmemory));
    await admin.config("RESETSTAT");
    const total = 6_000; // 2 KiB each: 12 MiB through a 3 MiB budget
    const loaded = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "oom" },
        // A short dedup window: its expiry inside the write script is what let a legacy (no
        // shebang) script write on past maxmemory.
        spec: {
          buffer: { type: "redis", url: server.url, keyPrefix: "oom", dedupWindow: "1s" },
          limits: { readBatchSize: 50, readTimeout: "20ms" },
          vertices: [
            { name: "in", source: { generator: { total, rpu: total, duration: "1s", msgSize: 2048, keyCount: 8 } } },
            { name: "out", partitions: 2, sink: { blackhole: {} } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    const lines: Array<{ msg: string }> = [];
    const logger = createJsonLogger({ level: "warn", write: (line) => void lines.push(JSON.parse(line) as { msg: string }) });
    const seen = new Set<string>();
    let held = true;
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      // The sink holds back until Redis has refused writes for memory, so the source presses on a full Redis.
      while (held) await sleep(10);
      for (const message of messages) seen.add(message.id);
      return messages.map((message) => ({ id: message.id, status: "ok" }));
    };
    const pipeline = createPipeline(loaded, { sinks: { out: sink }, logger });
    const run = pipeline.start();
    const refused = () => lines.some((line) => line.msg.startsWith("redis is over maxmemory"));
    let peakSampled = 0;
    while (!refused() && pipeline.counts()["in"]!.read < total) {
      peakSampled = Math.max(peakSampled, (await memoryInfo(admin)).used);
      await sleep(20);
    }
    held = false;
    const summary = await run;
    const { peak } = await memoryInfo(admin);
    expect(summary.status, summary.reason).toBe("completed");
    expect(Math.max(peak, peakSampled), `peak used_memory vs maxmemory ${maxmemory}`).toBeLessThanOrEqual(maxmemory + MARGIN);
    expect(refused(), "writes were refused for memory (the scenario pressed on maxmemory)").toBe(true);
    expect(seen.size).toBe(total);
    expect(summary.vertices["in"]!.dropped).toBe(0);
  }, 120_000);
});
