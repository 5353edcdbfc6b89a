/**
 * The Redis buffer's server-side work (issue 12: Redis CPU per message), on a private redis-server
 * so INFO COMMANDSTATS and XINFO counters see this file's commands only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisConnection, RedisStreamBuffer } from "../src/buffer/index.js";
import { isConnectionError } from "../src/buffer/redis/redis-connection.js";
import { createRedisDelayedStore } from "../src/flow/delayed-redis-store.js";
import { compareEntryIds } from "../src/buffer/redis/redis-stream-buffer.js";
import { messages, offsets } from "./buffer-conformance.js";
import { findRedisServer, redisCommand, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";

/** XINFO STREAM's reply as a record (field → value). */
async function streamInfo(url: string, key: string): Promise<Record<string, unknown>> {
  const reply = (await redisCommand(url, "XINFO", "STREAM", key)) as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

describe.skipIf(findRedisServer() === undefined)("Redis buffer: server-side work", () => {
  let server: RedisServer;
  const opened: RedisStreamBuffer[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.allSettled(opened.map((buffer) => buffer.close()));
    await server?.stop();
  });

  const open = (): RedisStreamBuffer => {
    const buffer = new RedisStreamBuffer({
      name: "cost.v",
      partitions: 1,
      maxLength: 1000,
      usageLimit: 1,
      upstreams: [],
      connection: { url: server.url },
      keyPrefix: uniquePrefix("wc"),
    });
    opened.push(buffer);
    return buffer;
  };

  it("drops an acked prefix with XTRIM, deleting no entry one by one (max-deleted-entry-id stays 0-0)", async () => {
    const buffer = open();
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("m", 10));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    const all = offsets(batch);
    expect(await buffer.ack(0, all.slice(0, 6))).toBe(6);
    expect((await buffer.usage(0)).length).toBe(4);
    // XDEL records the largest id it deleted; XTRIM does not.
    expect((await streamInfo(server.url, stream))["max-deleted-entry-id"]).toBe("0-0");
    expect(await buffer.ack(0, all.slice(6))).toBe(4);
    expect((await buffer.usage(0)).length).toBe(0);
  });

  it("deletes entries acked out of stream order and keeps what is still pending or undelivered", async () => {
    const buffer = open();
    await buffer.write(0, messages("m", 10));
    const first = offsets(await buffer.read(0, { consumer: "c", max: 6, timeoutMs: 0 }));
    // Acked in reverse and partly: the oldest stays pending, the rest above it must go by XDEL.
    expect(await buffer.ack(0, [...first.slice(1)].reverse())).toBe(5);
    expect((await buffer.usage(0)).length).toBe(5);
    // A never-delivered offset is neither acked nor deleted.
    const undelivered = offsets(await buffer.read(0, { consumer: "peek", max: 4, timeoutMs: 0 }));
    expect(await buffer.ack(0, [first[0] as string])).toBe(1);
    expect((await buffer.usage(0)).length).toBe(4);
    expect(await buffer.ack(0, undelivered)).toBe(4);
    expect((await buffer.usage(0)).length).toBe(0);
  });

  it("asks whether a batch was parked with no per-message lookup while nothing is parked on the partition", async () => {
    const connection = new RedisConnection({ url: server.url });
    try {
      const store = createRedisDelayedStore({ connection, keyPrefix: uniquePrefix("wd"), bufferName: "d.v", partitions: 1, dedupWindowMs: 60_000, capacity: 0 });
      await redisCommand(server.url, "CONFIG", "RESETSTAT");
      expect(await store.parkedAlready(0, ["1:a", "1:b", "1:c"])).toEqual([false, false, false]);
      const stats = String(await redisCommand(server.url, "INFO", "COMMANDSTATS"));
      expect(stats).not.toContain("cmdstat_hexists");
      expect(stats).not.toContain("cmdstat_zscore");
      // Once something is parked, the lookups run and find it.
      await store.park(0, [{ identity: "1:b", message: messages("b", 1)[0]!, delayMs: 60_000 }]);
      expect(await store.parkedAlready(0, ["1:a", "1:b", "1:c"])).toEqual([false, true, false]);
    } finally {
      await connection.close();
    }
  });

  it("remembers written ids in a plain set per window-long bucket of server time, expiring after the next bucket", async () => {
    const buffer = open();
    const [even, odd] = buffer.keysOf(0).dedupSets;
    await buffer.write(0, messages("m", 3));
    const type = async (key: string) => String(await redisCommand(server.url, "TYPE", key));
    const current = (await type(even)) === "set" ? even : odd;
    expect([await type(even), await type(odd)].sort()).toEqual(["none", "set"]);
    expect(((await redisCommand(server.url, "SMEMBERS", current)) as string[]).sort()).toEqual(["m0", "m1", "m2"]);
    // Expires at the end of the bucket after the one written in: (n + 2) × window, on the server's clock.
    const window = 600_000;
    const expiresAt = Number(await redisCommand(server.url, "PEXPIRETIME", current));
    expect(expiresAt % window).toBe(0);
    const [seconds, micros] = (await redisCommand(server.url, "TIME")) as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    expect(expiresAt).toBe((Math.floor(now / window) + 2) * window);
    expect(Number(await redisCommand(server.url, "EXISTS", `${buffer.keysOf(0).stream}:dedup`))).toBe(0);
  });

  it("writes each message once when a batch is written again from a different grouping (a redelivery after a crash)", async () => {
    const buffer = open();
    const all = messages("m", 6);
    // A = m0…m3 (from input entries e1, e2), written, then the worker died before its ack; the
    // redelivery groups e2, e3 into m2…m5.
    expect(await buffer.write(0, all.slice(0, 4))).toEqual({ written: 4 });
    expect(await buffer.write(0, all.slice(2, 6))).toEqual({ written: 4, deduped: 2 });
    const read = await buffer.read(0, { consumer: "c", max: 20, timeoutMs: 0 });
    expect(read.entries.map((entry) => entry.message.id)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
  });

  /** A framed buffer (the pipelines' default) with these options. */
  const openFramed = (options: { upstreams?: string[]; dedupWindowMs?: number } = {}): RedisStreamBuffer => {
    const buffer = new RedisStreamBuffer({
      name: "cost.f",
      partitions: 1,
      maxLength: 10_000,
      usageLimit: 1,
      upstreams: options.upstreams ?? [],
      connection: { url: server.url },
      keyPrefix: uniquePrefix("wf"),
      framed: true,
      ...(options.dedupWindowMs === undefined ? {} : { dedupWindowMs: options.dedupWindowMs }),
    });
    opened.push(buffer);
    return buffer;
  };
  /** Calls of each command since the last CONFIG RESETSTAT (INFO COMMANDSTATS), by name. */
  const commandCalls = async (): Promise<Map<string, number>> => {
    const stats = String(await redisCommand(server.url, "INFO", "COMMANDSTATS"));
    return new Map([...stats.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm)].map((match) => [match[1] as string, Number(match[2])]));
  };
  /** Resolves once the server's clock is in the dedup bucket after `bucket` (polled: waits for the condition, not a time). */
  const serverBucket = async (window: number): Promise<number> => {
    const [seconds, micros] = (await redisCommand(server.url, "TIME")) as [string, string];
    return Math.floor((Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)) / window);
  };

  it("sets a dedup bucket's expiry once, on its first write, and asks no set's existence apart (framed write)", async () => {
    const buffer = openFramed();
    await buffer.write(0, messages("a", 5));
    await redisCommand(server.url, "CONFIG", "RESETSTAT");
    for (let i = 0; i < 4; i++) await buffer.write(0, messages(`b${i}-`, 5));
    const calls = await commandCalls();
    // Every write of bucket n would set the same expiry, (n + 2) × window: the first one did.
    expect(calls.get("pexpireat")).toBeUndefined();
    // Per write: EXISTS of the stream only (the previous bucket's set is known from its expiry).
    expect(calls.get("exists")).toBe(4);
    expect(calls.get("evalsha")).toBe(4);
    expect(calls.get("smismember")).toBe(4);
    expect(calls.get("sadd")).toBe(4);
  });

  it("still drops an id written in the previous bucket, and forgets it two buckets on (framed write)", async () => {
    const window = 400;
    const buffer = openFramed({ dedupWindowMs: window });
    // Start early in a bucket, so the first two writes share it.
    const start = await serverBucket(window);
    while ((await serverBucket(window)) === start);
    const first = await serverBucket(window);
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3 });
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3, deduped: 3 });
    while ((await serverBucket(window)) === first);
    // Bucket first + 1: the ids are in the previous bucket's set, which the write consults.
    if ((await serverBucket(window)) === first + 1) {
      expect(await buffer.write(0, [...messages("a", 2), ...messages("b", 1)])).toEqual({ written: 3, deduped: 2 });
    }
    while ((await serverBucket(window)) <= first + 1);
    // Bucket first + 2 or later: bucket first's set is stale (its expiry, (first + 2) × window, passed).
    expect(await buffer.write(0, messages("a", 1))).toEqual({ written: 1 });
  });

  it("answers a read while upstreams are still writing with SCARD, calling no script (framed buffer)", async () => {
    const buffer = openFramed({ upstreams: ["up"] });
    await buffer.write(0, messages("a", 6));
    await redisCommand(server.url, "CONFIG", "RESETSTAT");
    let read = 0;
    for (let i = 0; i < 3; i++) read += (await buffer.read(0, { consumer: "c", max: 2, timeoutMs: 0 })).entries.length;
    expect(read).toBe(6);
    const calls = await commandCalls();
    expect(calls.get("evalsha")).toBeUndefined();
    expect(calls.get("eval")).toBeUndefined();
    expect(calls.get("scard")).toBeGreaterThanOrEqual(1);
    // Once every upstream ended, the read that empties the partition reports the end (the state script).
    await buffer.endOfStream("up");
    const last = await buffer.read(0, { consumer: "c", max: 2, timeoutMs: 0 });
    expect(last.entries).toEqual([]);
    expect(last.endOfStream).toBe(true);
  });

  it("acks whole frames with no HDEL of the progress hash while no frame is acked in part", async () => {
    const buffer = openFramed();
    for (let i = 0; i < 3; i++) await buffer.write(0, messages(`f${i}-`, 4));
    const batch = await buffer.read(0, { consumer: "c", max: 12, timeoutMs: 0 });
    await redisCommand(server.url, "CONFIG", "RESETSTAT");
    expect(await buffer.ack(0, offsets(batch))).toBe(12);
    const calls = await commandCalls();
    expect(calls.get("xack")).toBe(3);
    expect(calls.get("hdel")).toBeUndefined();
    expect((await buffer.usage(0)).length).toBe(0);
  });

  it("counts a command aborted with its cut auto-pipeline as a connection error (retriable), as a lost reply is", () => {
    // ioredis's AbortError from abortIncompletePipelines (seen failing a sink's ack in fault trial 3.1).
    const aborted = Object.assign(new Error("Command aborted due to connection close"), { name: "AbortError" });
    expect(isConnectionError(aborted)).toBe(true);
    expect(isConnectionError(new Error("ERR syntax error"))).toBe(false);
  });

  it("orders entry ids as Redis does", () => {
    const sorted = ["0-1", "1-0", "1-2", "1-10", "9-0", "9-10", "10-0", "10-5", "1700000000000-0", "1700000000000-3", "1700000000000-12", "1700000000001-0", "18446744073709551615-0"];
    expect([...sorted].reverse().sort(compareEntryIds)).toEqual(sorted);
    expect(compareEntryIds("0001-2", "1-2")).toBe(0);
    expect(compareEntryIds("01-2", "1-3")).toBeLessThan(0);
    expect(compareEntryIds("2-0", "1-0010")).toBeGreaterThan(0);
    expect(compareEntryIds("1-0010", "1-9")).toBeGreaterThan(0);
  });
});
