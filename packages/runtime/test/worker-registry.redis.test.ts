/**
 * Worker registration on Redis without a browser: a beating worker is alive, a clean exit leaves it
 * stopped, one whose beats stopped (as after SIGKILL) is dead after 3 intervals by the server's
 * clock, and the claims live workers made on its vertices after its last beat are listed under it.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workersKey } from "../src/buffer/redis/keys.js";
import { parseSpec } from "../src/spec/load-spec.js";
import type { PipelineSpec } from "../src/spec/pipeline-spec.js";
import { startWorkerHeartbeat } from "../src/ui/worker-heartbeat.js";
import { BEAT_SUFFIX, type WorkerRecord } from "../src/ui/worker-record.js";
import { readWorkers } from "../src/ui/worker-registry.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("worker registration in Redis", () => {
  let redis: Redis;
  const prefix = uniquePrefix("wr");
  let spec: PipelineSpec;

  beforeAll(() => {
    redis = new Redis(url!);
    spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "reg" },
        spec: {
          buffer: { type: "redis", url, keyPrefix: prefix },
          vertices: [{ name: "in", source: { generator: { total: 1 } } }, { name: "out", partitions: 2, sink: { log: {} } }],
          edges: [{ from: "in", to: "out" }],
        },
      },
      process.cwd(),
    ).spec;
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(url!, `${prefix}:*`);
  });

  const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> => {
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it("shows a beating worker alive with what it runs, and a cleanly stopped one stopped", async () => {
    const heartbeat = startWorkerHeartbeat({ spec, id: "reg-a", vertices: ["out"], state: () => null, intervalMs: 100 });
    const [alive] = await until(() => readWorkers(redis, spec), (workers) => workers.length === 1);
    expect(alive!.view).toMatchObject({ id: "reg-a", alive: true, stopped: false, vertices: [{ name: "out", partitions: 2 }], pid: process.pid });
    expect(alive!.view.startedAt).toBeGreaterThan(0);
    await heartbeat.close();
    const [stopped] = await readWorkers(redis, spec);
    expect(stopped!.view).toMatchObject({ id: "reg-a", alive: false, stopped: true });
  });

  it("shows a worker whose beats stopped dead, with the claims made on its vertices since", async () => {
    const key = workersKey(prefix, "reg");
    // A record whose last beat is long past, as a SIGKILLed worker leaves it (server clock).
    const [seconds] = (await redis.time()) as [string | number, string | number];
    const lastBeat = Number(seconds) * 1000 - 60_000;
    const dead: WorkerRecord = { id: "reg-dead", host: "h", pid: 1, version: "x", startedAt: lastBeat - 1000, intervalMs: 1000, vertices: [{ name: "out", partitions: 2 }], state: null, claims: [], stopped: false };
    await redis.hset(key, "reg-dead", JSON.stringify(dead), `reg-dead${BEAT_SUFFIX}`, String(lastBeat));
    const claimer = startWorkerHeartbeat({ spec, id: "reg-b", vertices: ["out"], state: () => null, intervalMs: 100 });
    try {
      claimer.claimed("out", 1, 7);
      const workers = await until(
        () => readWorkers(redis, spec),
        (list) => (list.find((worker) => worker.view.id === "reg-dead")?.view.claimedBy.length ?? 0) > 0,
      );
      const view = workers.find((worker) => worker.view.id === "reg-dead")!.view;
      expect(view.alive).toBe(false);
      expect(view.stopped).toBe(false);
      expect(view.claimedBy).toEqual([expect.objectContaining({ worker: "reg-b", vertex: "out", partition: 1, count: 7 })]);
      expect(workers.find((worker) => worker.view.id === "reg-b")!.view.alive).toBe(true);
    } finally {
      await claimer.close();
    }
  });
});
