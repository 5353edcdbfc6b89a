/**
 * Delayed redelivery on Redis (issue #15 part 3, docs/flow-control.md "Delayed redelivery"): parked
 * messages wait in a sorted set per partition, the vertex's readers move them back into the
 * stream when due, the partition flows on meanwhile, and a SIGKILL at any point loses none and
 * duplicates none.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkAnswer, SinkContext } from "@weir/actors";
import { createPipeline, parseSpec } from "@weir/runtime";
import { RedisConnection } from "../src/buffer/redis/redis-connection.js";
import { RedisStreamBuffer } from "../src/buffer/redis/redis-stream-buffer.js";
import { partitionKeys } from "../src/buffer/redis/keys.js";
import { decodeMessage } from "../src/buffer/redis/encoding.js";
import { createRedisDelayedStore } from "../src/flow/delayed-redis-store.js";
import { delayedSinkFunction } from "../src/flow/delayed-sink.js";
import type { DelayedStore, Released } from "../src/flow/delayed-store.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { silentLogger } from "../src/observability/logger.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";
import { defaultRetryPolicy } from "@weir/actors";
import { listSource } from "./support/list-source.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
const laterSink = fileURLToPath(new URL("./fixtures/retry-later-sink.mjs", import.meta.url));
const encoder = new TextEncoder();
// Keys shared by an even and an odd id, so every partition holds messages to park and others.
const message = (i: number): Message => ({ id: `m${i}`, keys: [`k${Math.floor(i / 2) % 8}`], value: encoder.encode(`v${i}`), eventTime: 0, headers: {} });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);
const isEven = (id: string) => Number(id.slice(1)) % 2 === 0;

/** Releases until something is moved or found a duplicate (releases are throttled by the store). */
async function releaseSome(store: DelayedStore): Promise<Released> {
  for (;;) {
    const released = await store.release(0, 100);
    if (released.moved + released.duplicates > 0) return released;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.skipIf(url === undefined)("delayed redelivery on Redis", () => {
  const redisUrl = url as string;
  const prefixes: string[] = [];
  let redis: Redis;
  let dir: string;
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    redis = new Redis(redisUrl);
    dir = await mkdtemp(path.join(tmpdir(), "weir-later-redis-"));
  });
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    children.clear();
  });
  afterAll(async () => {
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });
  const newPrefix = (label: string) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  };

  it("acceptance: 1,000 messages answered retryLater once with 2 s: each is delivered once, ≥ 2 s after its answer, while the partitions' other messages flow on", async () => {
    const prefix = newPrefix("later");
    const { spec } = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "later" },
        spec: {
          buffer: { type: "redis", url: redisUrl, keyPrefix: prefix },
          limits: { readBatchSize: 50, readTimeout: "20ms" },
          vertices: [
            { name: "in", source: { generator: { total: 1 } } },
            { name: "out", partitions: 2, sink: { module: { path: "./unused.mjs" } } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      process.cwd(),
    );
    // Events in the order they happened, with wall-clock times (Redis's TIME, which sets due times, reads the same clock).
    const events: Array<{ kind: "later" | "delivered"; id: string; partition: number; at: number }> = [];
    const answered = new Set<string>();
    const sink = async (batch: readonly Message[], context: SinkContext): Promise<SinkAnswer[]> => {
      const at = Date.now();
      return batch.map((entry): SinkAnswer => {
        if (isEven(entry.id) && !answered.has(entry.id)) {
          answered.add(entry.id);
          events.push({ kind: "later", id: entry.id, partition: context.partition, at });
          return { id: entry.id, status: "retryLater", delayMs: 2_000 };
        }
        events.push({ kind: "delivered", id: entry.id, partition: context.partition, at });
        return { id: entry.id, status: "ok" };
      });
    };
    const summary = await createPipeline(spec, { sources: { in: listSource(ids(2_000).map((_, i) => message(i))) }, sinks: { out: sink } }).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 2_000, retriedLater: 1_000, fallback: 0, dropped: 0, deduped: 0, read: 3_000, acked: 3_000 });

    const delivered = events.filter((event) => event.kind === "delivered");
    expect(delivered.map((event) => event.id).sort()).toEqual(ids(2_000).sort()); // every one, none twice
    for (const later of events.filter((event) => event.kind === "later")) {
      const back = delivered.find((event) => event.id === later.id)!;
      expect(back.at - later.at, later.id).toBeGreaterThanOrEqual(2_000);
    }
    // The partitions flowed while messages waited: in each, messages that were never parked were
    // delivered after its first park and before its first parked message came back.
    for (const partition of [0, 1]) {
      const mine = events.filter((event) => event.partition === partition);
      const firstLater = mine.findIndex((event) => event.kind === "later");
      const firstBack = mine.findIndex((event) => event.kind === "delivered" && answered.has(event.id));
      expect(firstLater).toBeGreaterThanOrEqual(0);
      const flowing = mine.slice(firstLater, firstBack).filter((event) => event.kind === "delivered" && !answered.has(event.id));
      expect(flowing.length, `partition ${partition}`).toBeGreaterThan(0);
    }
    // Nothing is left parked.
    for (const partition of [0, 1]) expect(await redis.zcard(partitionKeys(prefix, "later.out", partition).delayed)).toBe(0);
  }, 120_000);

  describe("a delivery re-processed after its worker died between the park and the ack", () => {
    const setup = () => {
      const prefix = newPrefix("park");
      const connection = new RedisConnection({ url: redisUrl });
      const store = createRedisDelayedStore({ connection, keyPrefix: prefix, bufferName: "p.out", partitions: 1, dedupWindowMs: 60_000, capacity: 0 });
      const counts = emptyCounts();
      const options = { vertex: "out", store, retry: defaultRetryPolicy, counts, countsWritten: true, failures: createFailureLog(silentLogger), failureKind: "sinkFailed" as const };
      const calls: string[] = [];
      const sink = delayedSinkFunction(async (batch) => {
        calls.push(...batch.map((entry) => entry.id));
        return batch.map((entry) => ({ id: entry.id, status: "retryLater", delayMs: 0 }));
      }, options);
      const context = { vertex: "out", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
      const streamIds = async () => (await redis.xrangeBuffer(partitionKeys(prefix, "p.out", 0).stream, "-", "+")).map(([, fields]) => decodeMessage(fields[1]!));
      return { prefix, connection, store, counts, calls, sink, context, streamIds };
    };

    it("while it is still parked: answered done without reaching the sink, and released once", async () => {
      const { connection, store, counts, calls, sink, context, streamIds } = setup();
      try {
        expect(await sink([message(1)], context)).toEqual([{ id: "m1", status: "ok" }]);
        // The worker died before the ack: another worker gets the same entry.
        expect(await sink([message(1)], context)).toEqual([{ id: "m1", status: "ok" }]);
        expect(calls).toEqual(["m1"]);
        expect(counts).toMatchObject({ retriedLater: 1, deduped: 1 });
        expect(await releaseSome(store)).toMatchObject({ moved: 1 });
        const back = await streamIds();
        expect(back.map((entry) => entry.id)).toEqual(["m1"]);
        expect(back[0]!.headers).toMatchObject({ "x-weir-redeliveries": "1", "x-weir-attempts-spent": "1" });
      } finally {
        await connection.close();
      }
    });

    it("after it was released: still answered done; and a park repeated anyway is released only once", async () => {
      const { connection, store, calls, sink, context, streamIds } = setup();
      try {
        await sink([message(2)], context);
        expect(await releaseSome(store)).toMatchObject({ moved: 1 });
        expect(await sink([message(2)], context)).toEqual([{ id: "m2", status: "ok" }]);
        expect(calls).toEqual(["m2"]);
        // Parked again by a path that did not look (the identity is the same): never released twice.
        await store.park(0, [{ identity: "1:m2", message: message(2), delayMs: 0 }]);
        const released = await releaseSome(store);
        expect(released).toMatchObject({ moved: 0, duplicates: 1 });
        expect((await streamIds()).map((entry) => entry.id)).toEqual(["m2"]);
      } finally {
        await connection.close();
      }
    });
  });

  it("a partition whose upstreams all ended does not end while one of its messages is parked (the end check counts the delayed set)", async () => {
    const prefix = newPrefix("eos");
    const connection = new RedisConnection({ url: redisUrl });
    const buffer = new RedisStreamBuffer({ name: "e.out", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: ["in"], connection, keyPrefix: prefix });
    const store = createRedisDelayedStore({ connection, keyPrefix: prefix, bufferName: "e.out", partitions: 1, dedupWindowMs: 60_000, capacity: 100 });
    const read = () => buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    try {
      await buffer.write(0, [message(1)]);
      const first = await read();
      await store.park(0, [{ identity: "1:m1", message: message(1), delayMs: 0 }]);
      await buffer.ack(0, first.entries.map((entry) => entry.offset));
      await buffer.endOfStream("in");
      expect(await read()).toEqual({ entries: [], endOfStream: false });
      expect(await releaseSome(store)).toMatchObject({ moved: 1 });
      const again = await read();
      expect(again.entries.map((entry) => entry.message.id)).toEqual(["m1"]);
      await buffer.ack(0, again.entries.map((entry) => entry.offset));
      expect((await read()).endOfStream).toBe(true);
    } finally {
      await buffer.close();
      await connection.close();
    }
  });

  it("a SIGKILLed worker during the delay loses none and duplicates none: another worker moves the parked messages back", async () => {
    const prefix = newPrefix("kill");
    const file = path.join(dir, `${prefix}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: later }",
        "spec:",
        `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix}, claimIdle: 1s }`,
        "  limits: { readBatchSize: 50, readTimeout: 20ms }",
        "  vertices:",
        "    - { name: in, source: { generator: { total: 1000, rpu: 2000, duration: 1s, keyCount: 8 } } }",
        `    - { name: out, partitions: 2, sink: { module: { path: "${laterSink}" } } }`,
        "  edges:",
        "    - { from: in, to: out }",
        "",
      ].join("\n"),
    );
    const env = { WEIR_TEST_SINK_URL: redisUrl, WEIR_TEST_SINK_PREFIX: prefix, WEIR_TEST_LATER_ALL: "1", WEIR_TEST_LATER_MS: "2000" };
    const start = (vertices: string, replica: string) => {
      const child = spawn(process.execPath, [bin, "run", file, "--json", "--allow-modules-outside", "--vertices", vertices, "--replica", replica], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
      });
      children.add(child);
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      let stdout = "";
      child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: () => string; stdout: () => string }>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal, stderr: () => stderr, stdout: () => stdout })),
      );
      return { child, exited };
    };
    const parked = async () => (await Promise.all([0, 1].map((p) => redis.zcard(partitionKeys(prefix, "later.out", p).delayed)))).reduce((a, b) => a + b, 0);

    const out = start("out", "a");
    const source = start("in", "s");
    // Kill the sink worker once it has parked messages and before any came back.
    for (;;) {
      if ((await parked()) >= 100) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    out.child.kill("SIGKILL");
    const killed = await out.exited;
    expect(killed.signal).toBe("SIGKILL");
    const sourceExit = await source.exited;
    expect(sourceExit.code, sourceExit.stderr().slice(-2000)).toBe(0);

    const second = start("out", "b");
    const done = await second.exited;
    expect(done.code, done.stderr().slice(-3000)).toBe(0);
    if (process.env["WEIR_TEST_SHOW_SUMMARY"] === "1") console.log(done.stdout());

    const deliveries = await redis.hgetall(`${prefix}:deliveries`);
    expect(Object.keys(deliveries)).toHaveLength(1000); // none lost
    expect(Object.values(deliveries).filter((n) => n !== "1")).toEqual([]); // none twice
    const later = await redis.hgetall(`${prefix}:later`);
    const delivered = await redis.hgetall(`${prefix}:delivered`);
    for (const [id, at] of Object.entries(delivered)) expect(Number(at) - Number(later[id]), id).toBeGreaterThanOrEqual(2_000);
    expect(await parked()).toBe(0);
  }, 180_000);
});
