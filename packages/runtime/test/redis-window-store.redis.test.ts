/**
 * The Redis window store (reduce/redis-window-store.ts) on a private redis-server with
 * `appendonly yes, appendfsync always`: the conformance suite, then what only Redis has — state
 * and watermark surviving a Redis restart, commits under maxmemory, and `weir reset`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStreamBuffer } from "../src/buffer/index.js";
import { resetCommand } from "../src/cli/commands/reset.js";
import { createRedisWindowStore } from "../src/reduce/redis-window-store.js";
import { boundedSpecText } from "./support/bounded-spec.js";
import { findRedisServer, redisCommand, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { change, delivered, describeWindowStoreConformance } from "./window-store-conformance.js";

const DURABLE = ["--appendfsync", "always", "--maxmemory-policy", "noeviction"];

describe.skipIf(findRedisServer() === undefined)("Redis window store", () => {
  let server: RedisServer;
  let dataDir: string;

  beforeAll(async () => {
    // The data directory is the test's, so a restarted server finds the same append-only file.
    dataDir = await mkdtemp(path.join(tmpdir(), "weir-window-store-"));
    server = await startRedisServer({ appendonly: true, args: [...DURABLE, "--dir", dataDir] });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function openBuffer(keyPrefix: string, url = server.url): RedisStreamBuffer {
    return new RedisStreamBuffer({ name: "ws.reduce", partitions: 2, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix, connection: { url } });
  }

  describeWindowStoreConformance("Redis window store", async () => {
    const buffer = openBuffer(uniquePrefix("ws"));
    return { buffer, store: (consumer) => createRedisWindowStore({ buffer, consumer }), close: () => buffer.close() };
  });

  it("keeps its windows under the partition's hash tag, beside the stream", async () => {
    const buffer = openBuffer("tagged");
    try {
      await createRedisWindowStore({ buffer, consumer: "c1" }).commit(1, [], change({ a: "1" }), 5);
      expect(await redisCommand(server.url, "HGETALL", "tagged:{ws.reduce.1}:windows")).toEqual(["a", "1"]);
      expect(await redisCommand(server.url, "GET", "tagged:{ws.reduce.1}:watermark")).toBe("5");
    } finally {
      await buffer.close();
    }
  });

  it("a commit acks as the buffer does: the acked prefix trimmed (no XDEL one by one), out-of-order ids deleted", async () => {
    const buffer = openBuffer(uniquePrefix("trim"));
    try {
      const store = createRedisWindowStore({ buffer, consumer: "c1" });
      const offsets = await delivered(buffer, 0, "c1", 6);
      expect(await store.commit(0, offsets.slice(0, 3), change({ a: "1" }), 1)).toBe(3);
      const info = (await redisCommand(server.url, "XINFO", "STREAM", buffer.keysOf(0).stream)) as unknown[];
      // XDEL records the largest id it deleted; XTRIM does not.
      expect(info[info.indexOf("max-deleted-entry-id") + 1]).toBe("0-0");
      expect((await buffer.usage(0)).length).toBe(3);
      // Out of order: the last one first (above the oldest pending), then the rest.
      expect(await store.commit(0, [offsets[5]!, offsets[4]!], change({ a: "2" }), 2)).toBe(2);
      expect((await buffer.usage(0)).length).toBe(1);
      expect(await store.commit(0, [offsets[3]!], change({ a: "3" }), 3)).toBe(1);
      expect((await buffer.usage(0)).length).toBe(0);
    } finally {
      await buffer.close();
    }
  });

  it("a commit checks its entries with one XPENDING when they are the consumer's pending ones in order, each on its own otherwise", async () => {
    const buffer = openBuffer(uniquePrefix("pending"));
    const xpendingCalls = async () => {
      const stats = (await redisCommand(server.url, "INFO", "commandstats")) as string;
      return Number(/^cmdstat_xpending:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
    };
    try {
      const store = createRedisWindowStore({ buffer, consumer: "c1" });
      const offsets = await delivered(buffer, 0, "c1", 8);
      let before = await xpendingCalls();
      expect(await store.commit(0, offsets.slice(0, 5), change({ a: "1" }), 1)).toBe(5);
      // One for the check of all five, one the ack's own (its summary finds the oldest pending to trim to).
      expect((await xpendingCalls()) - before).toBe(2);
      // Not the consumer's first pending ones in order (one skipped): each looked up, the commit the same.
      before = await xpendingCalls();
      expect(await store.commit(0, [offsets[5]!, offsets[7]!], change({ a: "2" }), 2)).toBe(2);
      expect((await xpendingCalls()) - before).toBe(4);
      // One not pending for the consumer (acked already): nothing changes.
      expect(await store.commit(0, [offsets[6]!, offsets[7]!], change({ a: "3" }), 3)).toBe(0);
      expect(await redisCommand(server.url, "HGET", buffer.keysOf(0).windows, "a")).toBe("2");
    } finally {
      await buffer.close();
    }
  });

  it("state and watermark survive a Redis restart; the entry left pending is committed after it", async () => {
    const keyPrefix = uniquePrefix("restart");
    const before = openBuffer(keyPrefix);
    const offsets = await delivered(before, 0, "c1", 3);
    expect(await createRedisWindowStore({ buffer: before, consumer: "c1" }).commit(0, offsets.slice(0, 2), change({ a: '{"count":2}' }), 1_001)).toBe(2);
    await before.close();

    await redisCommand(server.url, "SHUTDOWN").catch(() => undefined); // the reply is the closed connection
    await server.kill(); // waits for the exit (SHUTDOWN has already ended the process)
    server = await startRedisServer({ port: server.port, appendonly: true, args: [...DURABLE, "--dir", dataDir] });

    const after = openBuffer(keyPrefix);
    try {
      const store = createRedisWindowStore({ buffer: after, consumer: "c1" });
      expect(await store.load(0)).toEqual({ windows: new Map([["a", '{"count":2}']]), watermark: 1_001 });
      expect(await after.usage(0)).toMatchObject({ length: 1, pending: 1 });
      expect(await store.commit(0, offsets.slice(2), change({ a: '{"count":3}' }), 1_002)).toBe(1);
      expect(await store.load(0)).toEqual({ windows: new Map([["a", '{"count":3}']]), watermark: 1_002 });
    } finally {
      await after.close();
    }
  });

  it("commits while Redis is over maxmemory, as the buffer's ack does (the commit is what frees memory)", async () => {
    const buffer = openBuffer(uniquePrefix("oom"));
    const admin = new Redis(server.url);
    try {
      const offsets = await delivered(buffer, 0, "c1", 2);
      await admin.config("SET", "maxmemory", "1");
      // Pressure is on: a write is refused (a full buffer) ...
      expect(await buffer.write(0, [{ id: "refused", keys: [], value: new Uint8Array(1), eventTime: 0, headers: {} }])).toEqual({ written: 0 });
      // ... and the commit goes through, with its state.
      const store = createRedisWindowStore({ buffer, consumer: "c1" });
      expect(await store.commit(0, offsets, change({ a: "1" }), 9)).toBe(2);
      await admin.config("SET", "maxmemory", "0");
      expect(await store.load(0)).toEqual({ windows: new Map([["a", "1"]]), watermark: 9 });
    } finally {
      await admin.config("SET", "maxmemory", "0");
      admin.disconnect();
      await buffer.close();
    }
  });

  it("weir reset deletes every partition's window state and watermark", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "weir-window-reset-"));
    const admin = new Redis(server.url);
    try {
      const file = path.join(dir, "wr.yaml");
      await writeFile(file, boundedSpecText({ name: "wr", buffer: `{ type: redis, url: "${server.url}", keyPrefix: wr }`, total: 10 }));
      const keys = [0, 1].flatMap((p) => [`wr:{wr.out.${p}}:windows`, `wr:{wr.out.${p}}:watermark`]);
      for (let p = 0; p < 2; p++) {
        await admin.hset(`wr:{wr.out.${p}}:windows`, "w", "{}");
        await admin.set(`wr:{wr.out.${p}}:watermark`, "100");
      }
      const out: string[] = [];
      const sink = { write: (chunk: string) => (out.push(chunk), true) } as unknown as NodeJS.WritableStream;
      expect(await resetCommand.run([file, "--yes"], { stdout: sink, stderr: sink, isTTY: false }), out.join("")).toBe(0);
      expect(out.join("")).toMatch(/deleted \d+ keys/);
      expect(await admin.exists(...keys)).toBe(0);
    } finally {
      admin.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
