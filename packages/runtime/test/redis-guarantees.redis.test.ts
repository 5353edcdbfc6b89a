/**
 * Direct tests of Redis-side guarantees that only the fault suite or one end-to-end run against
 * the built binary used to catch (issue #10 item 14): each fails when its behaviour is broken.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkResult } from "@weir/actors";
import { createJsonLogger, createPipeline, parseSpec, RedisStreamBuffer, type BufferOptions, type PipelineSpecInput } from "@weir/runtime";
import { ids, messages, offsets, sleep } from "./buffer-conformance.js";
import { deleteKeys, findRedisServer, redisTestUrl, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";

const url = redisTestUrl();

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.skipIf(url === undefined)("Redis buffer guarantees, tested directly", () => {
  const redisUrl = url as string;
  const opened: Array<{ close(): Promise<void> }> = [];
  const prefixes: string[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-guarantees-"));
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((item) => item.close()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}:*`);
  });

  const open = (keyPrefix: string, overrides: Partial<BufferOptions> = {}): RedisStreamBuffer => {
    const buffer = new RedisStreamBuffer({
      name: "g.out",
      partitions: 1,
      maxLength: 20_000,
      usageLimit: 1,
      upstreams: [],
      ...overrides,
      connection: { url: redisUrl, name: keyPrefix },
      keyPrefix,
      blockSliceMs: 100,
    });
    opened.push(buffer);
    return buffer;
  };
  const newPrefix = () => {
    const prefix = uniquePrefix("rg");
    prefixes.push(prefix);
    return prefix;
  };

  it("after a short (full-buffer) chunk, a write does not go on writing later chunks of the same batch", async () => {
    const prefix = newPrefix();
    // The batch's second chunk (5 000 messages per script call) is all duplicates: it would
    // "succeed" in full if the write went on after the first chunk came back short.
    const roomy = open(prefix);
    const batch = messages("m", 10_000);
    expect(await roomy.write(0, batch.slice(5_000))).toEqual({ written: 5_000 });
    const read = await roomy.read(0, { consumer: "c", max: 5_000, timeoutMs: 0 });
    await roomy.ack(0, offsets(read));
    const small = open(prefix, { maxLength: 4_000 });
    // Written means "the first N messages are in the stream": 4 000, not 9 000.
    expect(await small.write(0, batch)).toEqual({ written: 4_000 });
    const stored = await roomy.read(0, { consumer: "c", max: 10_000, timeoutMs: 0 });
    expect(ids(stored)).toEqual(batch.slice(0, 4_000).map((message) => message.id));
  }, 60_000);

  it("end of stream is not reported while another consumer still holds pending entries", async () => {
    const prefix = newPrefix();
    const buffer = open(prefix, { upstreams: ["up"] });
    await buffer.write(0, messages("a", 2));
    const held = await buffer.read(0, { consumer: "a", max: 10, timeoutMs: 0 });
    expect(ids(held)).toEqual(["a0", "a1"]);
    await buffer.endOfStream("up");
    // "a" may still fail, and its entries then go to "b": "b" must not finish yet.
    expect(await buffer.read(0, { consumer: "b", max: 10, timeoutMs: 0 })).toEqual({ entries: [], endOfStream: false });
    await buffer.ack(0, offsets(held));
    expect(await buffer.read(0, { consumer: "b", max: 10, timeoutMs: 0 })).toEqual({ entries: [], endOfStream: true });
  });

  it("a pipeline worker claims a dead consumer's pending entries after claimIdle and delivers them", async () => {
    const prefix = newPrefix();
    const pipelineName = "claim";
    const dead = new RedisStreamBuffer({
      name: `${pipelineName}.out`, partitions: 1, maxLength: 1_000, usageLimit: 1, upstreams: ["in"],
      connection: { url: redisUrl, name: `${prefix}-dead` }, keyPrefix: prefix,
    });
    opened.push(dead);
    await dead.write(0, messages("d", 5));
    // The dead worker read them (pending for "dead") and never acked: it was SIGKILLed.
    expect(ids(await dead.read(0, { consumer: "dead", max: 10, timeoutMs: 0 }))).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    await dead.close();
    const input: PipelineSpecInput = {
      apiVersion: "weir.dev/v1",
      kind: "Pipeline",
      metadata: { name: pipelineName },
      spec: {
        buffer: { type: "redis", url: redisUrl, keyPrefix: prefix, claimIdle: "200ms" },
        limits: { readBatchSize: 10, readTimeout: "20ms" },
        vertices: [
          { name: "in", source: { generator: { total: 1, rpu: 1, duration: "1s" } } },
          { name: "out", partitions: 1, sink: { blackhole: {} } },
        ],
        edges: [{ from: "in", to: "out" }],
      },
    };
    const seen: string[] = [];
    const sink = async (batch: readonly Message[]): Promise<SinkResult[]> => {
      seen.push(...batch.map((message) => message.id));
      return batch.map((message) => ({ id: message.id, status: "ok" }));
    };
    const lines: Array<{ msg: string; count?: number }> = [];
    const logger = createJsonLogger({ level: "warn", write: (line) => void lines.push(JSON.parse(line) as { msg: string }) });
    // Only the sink vertex (a worker of a larger deployment): its upstream never ends here.
    const pipeline = createPipeline(parseSpec(input, dir), { vertices: ["out"], consumer: "alive", sinks: { out: sink }, logger });
    const run = pipeline.start();
    await until("the dead consumer's entries to reach the sink", () => seen.length >= 5);
    await until("their acks", async () => (await pipeline.bufferUsage()).every((entry) => entry.usage.pending === 0 && entry.usage.length === 0));
    pipeline.drain();
    await run;
    expect([...seen].sort()).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    expect(lines.filter((line) => line.msg === "claimed entries of an idle consumer").reduce((sum, line) => sum + (line.count ?? 0), 0)).toBe(5);
  }, 60_000);
});

describe.skipIf(findRedisServer() === undefined)("Redis that lost its data under a running pipeline", () => {
  let server: RedisServer;
  let dir: string;
  beforeAll(async () => {
    server = await startRedisServer(); // private: the test flushes it
    dir = await mkdtemp(path.join(tmpdir(), "weir-data-lost-"));
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  // The writer recreated a lost stream and its group without a word (its script makes them for a
  // buffer's first write), so readers that came back after the writer found a group and read on:
  // a restart without persistence completed short with exit 0 (the fault suite's 2.3, now and then).
  for (const framed of [true, false]) {
    it(`a write to a stream that disappeared while in use fails with BUFFER_DATA_LOST (framed: ${framed})`, async () => {
      const buffer = new RedisStreamBuffer({ name: `gone.${framed}`, partitions: 1, maxLength: 1_000, usageLimit: 0.8, upstreams: ["in"], connection: { url: server.url }, keyPrefix: "gone", framed });
      try {
        expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3 });
        const admin = new Redis(server.url);
        try {
          await admin.flushall(); // what a restart without persistence leaves
        } finally {
          admin.disconnect();
        }
        await expect(buffer.write(0, messages("b", 3))).rejects.toMatchObject({ code: "BUFFER_DATA_LOST", message: expect.stringMatching(/disappeared while in use — Redis lost its data/) });
      } finally {
        await buffer.close();
      }
    });
  }

  it("a consumer group that disappeared with Redis's data fails the run with BUFFER_DATA_LOST, not retried forever", async () => {
    const total = 200;
    const loaded = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "lost" },
        spec: {
          buffer: { type: "redis", url: server.url, keyPrefix: "lost" },
          limits: { readBatchSize: 20, readTimeout: "20ms" },
          vertices: [
            { name: "in", source: { generator: { total, rpu: total, duration: "1s" } } },
            { name: "out", partitions: 1, sink: { blackhole: {} } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    let held = true;
    let calls = 0;
    const sink = async (batch: readonly Message[]): Promise<SinkResult[]> => {
      calls += 1;
      while (held) await sleep(10);
      return batch.map((message) => ({ id: message.id, status: "ok" }));
    };
    const pipeline = createPipeline(loaded, { sinks: { out: sink } });
    const run = pipeline.start();
    // Everything is written and the sink holds an epoch: the group is in use.
    await until("the source to finish and the sink to hold a batch", () => calls > 0 && pipeline.counts()["in"]!.acked === total);
    const admin = new Redis(server.url);
    try {
      await admin.flushall(); // what a restart without persistence leaves
    } finally {
      admin.disconnect();
    }
    held = false;
    const summary = await run;
    expect(summary.status).toBe("failed");
    expect(summary.reason).toMatch(/consumer group "lost\.out" of lost:\{lost\.out\.0\} disappeared while in use — Redis lost its data/);
  }, 60_000);
});
