import { readFileSync } from "node:fs";
import type { Message } from "@weir/actors";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BufferError, RedisConnection, RedisStreamBuffer, redisOptionsFromUrl, reconnectDelay } from "../src/buffer/index.js";
import type { BufferOptions } from "../src/buffer/index.js";
import { decodeMessage, encodeMessage } from "../src/buffer/redis/encoding.js";
import { createJsonLogger, type Logger } from "../src/observability/logger.js";
import { hashTagOf, partitionKeys, sinkDedupKey } from "../src/buffer/redis/keys.js";
import { scripts, WEIR_SCRIPT_VERSION } from "../src/buffer/redis/scripts.js";
import { describeBufferConformance, expectBufferError, ids, messages, offsets, sleep } from "./buffer-conformance.js";
import { clientList, deleteKeys, killClientsByName, redisTestUrl, scanKeys, startRedisCluster, startRedisServer, uniquePrefix, type RedisCluster } from "./support/redis-server.js";
import { listenedController } from "./support/signal-listeners.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("RedisStreamBuffer", () => {
  const redisUrl = url as string;
  const filePrefix = uniquePrefix("wt");
  let shared: RedisConnection;

  beforeAll(() => {
    shared = new RedisConnection({ url: redisUrl, name: filePrefix });
  });
  afterAll(async () => {
    await shared.close();
    await deleteKeys(redisUrl, `${filePrefix}*`);
  });

  // The suite gives every test a unique buffer name; the prefix keeps this file's keys apart.
  describeBufferConformance(
    "RedisStreamBuffer",
    async (options) => new RedisStreamBuffer({ ...options, connection: shared, keyPrefix: filePrefix, blockSliceMs: 100 }),
    () => deleteKeys(redisUrl, `${filePrefix}:*`),
  );
});

// The same contract on a 3-master Redis Cluster: every script touches one partition's slot only
// (a CROSSSLOT error would fail these tests), and partitions spread over the nodes.
describe.skipIf(url === undefined)("RedisStreamBuffer on Redis Cluster", () => {
  let cluster: RedisCluster;
  let connection: RedisConnection;
  const prefix = uniquePrefix("wk");

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    connection = new RedisConnection({ url: cluster.url, cluster: true, name: prefix });
  });
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  describeBufferConformance(
    "RedisStreamBuffer (cluster)",
    async (options) => new RedisStreamBuffer({ ...options, connection, keyPrefix: prefix, blockSliceMs: 100 }),
  );

  it("spreads a buffer's partitions over the cluster's nodes", async () => {
    const buffer = new RedisStreamBuffer({ name: "spread.v", partitions: 8, maxLength: 100, usageLimit: 1, upstreams: ["up"], connection, keyPrefix: prefix });
    for (let p = 0; p < 8; p++) {
      expect(await buffer.write(p, messages(`p${p}-`, 3))).toEqual({ written: 3 });
      const batch = await buffer.read(p, { consumer: "c", max: 10, timeoutMs: 0 });
      expect(await buffer.ack(p, offsets(batch))).toBe(3);
    }
    await buffer.endOfStream("up");
    const owners = new Set<number>();
    for (const node of cluster.nodes) {
      const keys = await scanKeys(node.url, `${prefix}:{spread.v.*`);
      if (keys.length > 0) owners.add(node.port);
    }
    expect(owners.size).toBeGreaterThan(1);
    for (let p = 0; p < 8; p++) expect(await buffer.read(p, { consumer: "c", max: 10, timeoutMs: 0 })).toEqual({ entries: [], endOfStream: true });
    await buffer.close();
  });
});

describe.skipIf(url === undefined)("RedisStreamBuffer on Redis", () => {
  const redisUrl = url as string;
  const opened: Array<{ close(): Promise<void> }> = [];
  let prefix = "";

  const base = (overrides: Partial<BufferOptions> = {}): BufferOptions => ({
    name: "pipe.vertex",
    partitions: 1,
    maxLength: 1000,
    usageLimit: 1,
    upstreams: [],
    ...overrides,
  });

  function open(overrides: Partial<BufferOptions> & { dedupWindowMs?: number; name?: string; connectionName?: string; logger?: Logger } = {}): RedisStreamBuffer {
    const { dedupWindowMs, connectionName, logger, ...rest } = overrides;
    const buffer = new RedisStreamBuffer({
      ...base(rest),
      connection: { url: redisUrl, name: connectionName ?? prefix, ...(logger === undefined ? {} : { logger }) },
      keyPrefix: prefix,
      blockSliceMs: 100,
      ...(dedupWindowMs === undefined ? {} : { dedupWindowMs }),
    });
    opened.push(buffer);
    return buffer;
  }

  const admin = () => {
    const client = new Redis(redisUrl);
    opened.push({ close: async () => void client.disconnect() });
    return client;
  };

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((item) => item.close()));
    await deleteKeys(redisUrl, `${prefix}:*`);
  });

  // A fresh prefix per test: tests never see each other's keys, even in one file.
  const test = (name: string, body: () => Promise<void>, timeout?: number) =>
    it(name, async () => {
      prefix = uniquePrefix("wr");
      await body();
    }, timeout);

  test("writes the same ids once within the dedup window, and again after it expires", async () => {
    const buffer = open({ dedupWindowMs: 300 });
    expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 5 });
    // A retried batch (a crash between downstream write and upstream ack) adds nothing, yet counts as written — and as deduped.
    expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 5, deduped: 5 });
    expect(await buffer.write(0, [...messages("a", 2), ...messages("b", 2)])).toEqual({ written: 4, deduped: 2 });
    expect((await buffer.usage(0)).length).toBe(7);
    // Duplicates inside one batch count once too.
    const twice = messages("c", 1);
    expect(await buffer.write(0, [...twice, ...twice])).toEqual({ written: 2, deduped: 1 });
    expect((await buffer.usage(0)).length).toBe(8);
    // An id is remembered for at least the window and less than twice it (two bucket sets take turns).
    await sleep(650);
    expect(await buffer.write(0, messages("a", 1))).toEqual({ written: 1 });
    expect((await buffer.usage(0)).length).toBe(9);
    const all = await buffer.read(0, { consumer: "c", max: 100, timeoutMs: 0 });
    expect(ids(all)).toEqual(["a0", "a1", "a2", "a3", "a4", "b0", "b1", "c0", "a0"]);
  });

  test("writes a message that did not fit when it is retried, despite dedup", async () => {
    const buffer = open({ maxLength: 3 });
    expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 3 });
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    await buffer.ack(0, offsets(batch));
    // a0…a2 are duplicates (skipped, count as written and deduped); a3 and a4 were refused before, so not remembered.
    expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 5, deduped: 3 });
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a3", "a4"]);
  });

  test("turns off dedup with dedupWindowMs 0", async () => {
    const buffer = open({ dedupWindowMs: 0 });
    await buffer.write(0, messages("a", 3));
    await buffer.write(0, messages("a", 3));
    expect((await buffer.usage(0)).length).toBe(6);
    expect(await scanKeys(redisUrl, `${prefix}:*:dedup*`)).toEqual([]);
  });

  test("deletes acked entries, so XLEN is the unacked count", async () => {
    const buffer = open();
    const redis = admin();
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 10));
    expect(await redis.xlen(stream)).toBe(10);
    const batch = await buffer.read(0, { consumer: "c", max: 6, timeoutMs: 0 });
    expect(await redis.xlen(stream)).toBe(10);
    expect(await buffer.ack(0, offsets(batch).slice(0, 4))).toBe(4);
    expect(await redis.xlen(stream)).toBe(6);
    // An ack of never-delivered entries neither acks nor deletes them.
    const rest = (await redis.xrange(stream, "-", "+")).map(([id]) => id);
    expect(await buffer.ack(0, rest.slice(-2))).toBe(0);
    expect(await redis.xlen(stream)).toBe(6);
    expect(await buffer.ack(0, [...offsets(batch).slice(4), ...rest.slice(-2)])).toBe(2);
    expect(await redis.xlen(stream)).toBe(4);
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a6", "a7", "a8", "a9"]);
  });

  test("trims acked entries left by another client while full", async () => {
    const buffer = open({ maxLength: 5 });
    const redis = admin();
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 5));
    const batch = await buffer.read(0, { consumer: "c", max: 3, timeoutMs: 0 });
    // XACK without XDEL (as an older tool might): the entries stay in the stream.
    await redis.xack(stream, "pipe.vertex", ...offsets(batch));
    expect(await redis.xlen(stream)).toBe(5);
    expect(await buffer.write(0, messages("b", 5))).toEqual({ written: 3 });
    expect(await redis.xlen(stream)).toBe(5);
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a3", "a4", "b0", "b1", "b2"]);
  });

  test("re-reads pending entries after a restart (new buffer object, same consumer)", async () => {
    const first = open({ partitions: 2 });
    await first.write(1, messages("a", 5));
    const before = await first.read(1, { consumer: "worker-1", max: 4, timeoutMs: 0 });
    await first.ack(1, offsets(before).slice(0, 1));
    await first.close();
    const second = open({ partitions: 2 });
    const resumed = await second.read(1, { consumer: "worker-1", max: 10, timeoutMs: 0, fromPending: true });
    expect(ids(resumed)).toEqual(["a1", "a2", "a3"]);
    expect(offsets(resumed)).toEqual(offsets(before).slice(1));
    expect(resumed.entries.map((entry) => entry.message)).toEqual(messages("a", 4).slice(1));
    expect(ids(await second.read(1, { consumer: "worker-1", max: 10, timeoutMs: 0 }))).toEqual(["a4"]);
  });

  test("claims a dead consumer's entries from another process", async () => {
    const dead = open();
    await dead.write(0, messages("a", 4));
    await dead.read(0, { consumer: "dead", max: 3, timeoutMs: 0 });
    await dead.close(); // the process is gone; its entries stay pending for "dead"
    const alive = open();
    await sleep(60);
    const claimed = await alive.claimIdle(0, "alive", 50, 10);
    expect(claimed.map((entry) => entry.message.id)).toEqual(["a0", "a1", "a2"]);
    expect(await alive.ack(0, claimed.map((entry) => entry.offset))).toBe(3);
    expect(ids(await alive.read(0, { consumer: "alive", max: 10, timeoutMs: 0 }))).toEqual(["a3"]);
  });

  test("round-trips binary values, every byte value, and non-ASCII strings", async () => {
    const buffer = open();
    const all = new Uint8Array(256).map((_, i) => i);
    const invalidUtf8 = Uint8Array.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x00]);
    const sent: Message[] = [
      { id: "bin-0", keys: ["k"], value: all, eventTime: 1_700_000_000_123, headers: {} },
      { id: "bin-1", keys: [], value: invalidUtf8, eventTime: 0, headers: { "content-type": "application/octet-stream" } },
      { id: "bin-2", keys: ["ключ", "鍵", "🔑"], value: new Uint8Array(0), eventTime: -1.5, headers: { "ü": "ö", empty: "" } },
      { id: "x".repeat(300), keys: ["y".repeat(200)], value: new Uint8Array(100_000).fill(7), eventTime: Date.now(), headers: { long: "z".repeat(1000) } },
    ];
    expect(await buffer.write(0, sent)).toEqual({ written: 4 });
    const got = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(got.entries.map((entry) => entry.message)).toEqual(sent);
    for (const entry of got.entries) expect(entry.message.value).toBeInstanceOf(Uint8Array);
  });

  test("keeps every key inside its partition's hash tag", async () => {
    const buffer = open({ partitions: 3, upstreams: ["up"], maxLength: 4 });
    for (let p = 0; p < 3; p++) {
      await buffer.write(p, messages(`p${p}-`, 6));
      const batch = await buffer.read(p, { consumer: "c", max: 2, timeoutMs: 0 });
      await buffer.ack(p, offsets(batch));
      await buffer.claimIdle(p, "d", 0, 10);
    }
    await buffer.endOfStream("up");
    const keys = await scanKeys(redisUrl, `${prefix}*`);
    expect(keys.length).toBeGreaterThanOrEqual(9);
    const pattern = new RegExp(`^${prefix}:\\{pipe\\.vertex\\.([0-2])\\}(:dedup-[01]|:eos)?$`);
    for (const key of keys) {
      expect(key).toMatch(pattern);
      expect(hashTagOf(key)).toMatch(/^pipe\.vertex\.[0-2]$/);
    }
    expect(new Set(keys.map((key) => hashTagOf(key))).size).toBe(3);
  });

  test("continues after its connections are killed mid-run, losing and duplicating nothing", async () => {
    const name = `${prefix}-victim`;
    const lines: Array<{ level: string; msg: string }> = [];
    const logger = createJsonLogger({ level: "info", write: (line) => void lines.push(JSON.parse(line) as { level: string; msg: string }) });
    const writer = open({ partitions: 2, maxLength: 200, connectionName: `${name}-w`, logger });
    const reader = open({ partitions: 2, maxLength: 200, connectionName: `${name}-r`, logger });
    const total = 3000;
    const seen = new Map<string, number>();
    let writtenTotal = 0;
    let readTotal = 0;
    let kills = 0;
    const deadline = Date.now() + 30_000;
    const produce = async () => {
      const all = messages("m", total);
      let next = 0;
      while (next < total) {
        const p = next % 2;
        const batch = all.slice(next, next + 50);
        try {
          const { written } = await writer.write(p, batch);
          next += written;
          writtenTotal += written;
          if (written === 0) await sleep(5);
        } catch (error) {
          expect((error as BufferError).retriable).toBe(true);
          await sleep(20);
        }
      }
    };
    const consume = async (p: number) => {
      while (readTotal < total && Date.now() < deadline) {
        try {
          const batch = await reader.read(p, { consumer: "c", max: 40, timeoutMs: 50 });
          for (const entry of batch.entries) seen.set(entry.message.id, (seen.get(entry.message.id) ?? 0) + 1);
          readTotal += batch.entries.length;
          await reader.ack(p, offsets(batch));
        } catch (error) {
          expect((error as BufferError).retriable).toBe(true);
          await sleep(20);
        }
      }
    };
    const killer = async () => {
      while (readTotal < total && Date.now() < deadline) {
        await sleep(40);
        kills += await killClientsByName(redisUrl, name);
      }
    };
    await Promise.all([produce(), consume(0), consume(1), killer()]);
    expect(kills).toBeGreaterThan(2);
    // Every loss and recovery is logged.
    expect(lines.some((line) => line.level === "warn" && line.msg === "redis connection lost; reconnecting")).toBe(true);
    expect(lines.some((line) => line.level === "info" && line.msg === "redis connection restored")).toBe(true);
    expect(writtenTotal).toBe(total);
    expect(seen.size).toBe(total);
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    expect(await reader.usage(0)).toMatchObject({ length: 0, pending: 0 });
    expect(await reader.usage(1)).toMatchObject({ length: 0, pending: 0 });
  }, 60_000);

  test("fails retriably while Redis is down, and says the data was lost when it comes back empty", async () => {
    const server = await startRedisServer();
    opened.push({ close: () => server.stop() });
    const buffer = new RedisStreamBuffer({
      ...base(),
      connection: { url: server.url, maxRetriesPerRequest: 2, backoff: { initialMs: 20, maxMs: 50 } },
      keyPrefix: prefix,
    });
    opened.push(buffer);
    expect(await buffer.write(0, messages("a", 1))).toEqual({ written: 1 });
    await server.kill();
    const error = await buffer.write(0, messages("b", 1)).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(BufferError);
    expect(error).toMatchObject({ code: "BUFFER_UNAVAILABLE", retriable: true });
    // A new, empty Redis on the same port (nothing persisted): "a0" is gone. Writing on into a
    // recreated stream would hide that, so the first write that reaches it fails, not retriably.
    const again = await startRedisServer({ port: server.port });
    opened.push({ close: () => again.stop() });
    let outcome: unknown;
    for (let attempt = 0; attempt < 50 && outcome === undefined; attempt++) {
      outcome = await buffer.write(0, messages("c", 1)).then(
        (result) => result,
        async (reason: unknown) => {
          if ((reason as BufferError).retriable) return sleep(50).then(() => undefined);
          return reason;
        },
      );
    }
    expect(outcome).toMatchObject({ code: "BUFFER_DATA_LOST", retriable: false, message: expect.stringMatching(/disappeared while in use — Redis lost its data/) });
  });

  test("writes and acks after Redis forgot its scripts (SCRIPT FLUSH), sending them again", async () => {
    // A private server: SCRIPT FLUSH must not reach other test files' connections.
    const server = await startRedisServer();
    opened.push({ close: () => server.stop() });
    const buffer = new RedisStreamBuffer({ ...base(), connection: { url: server.url, name: `${prefix}-flush` }, keyPrefix: prefix });
    opened.push(buffer);
    const redis = new Redis(server.url);
    opened.push({ close: async () => void redis.disconnect() });
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3 });
    // The scripts went as EVAL once on this connection, then as EVALSHA; now Redis answers NOSCRIPT.
    await redis.script("FLUSH");
    expect(await buffer.write(0, messages("b", 2))).toEqual({ written: 2 });
    expect(await buffer.write(0, messages("b", 2))).toEqual({ written: 2, deduped: 2 });
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(ids(batch)).toEqual(["a0", "a1", "a2", "b0", "b1"]);
    await redis.script("FLUSH");
    expect(await buffer.ack(0, offsets(batch))).toBe(5);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });

  test("recovers entries whose read reply was lost with the connection", async () => {
    // A private server: CLIENT PAUSE must not stall other test files.
    const server = await startRedisServer();
    opened.push({ close: () => server.stop() });
    const name = `${prefix}-lost`;
    const buffer = new RedisStreamBuffer({ ...base(), connection: { url: server.url, name }, keyPrefix: prefix });
    opened.push(buffer);
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 5));
    // Redis delivered a0, a1 to consumer "c", but the reply never arrived (as when a connection
    // drops between execution and reply; ioredis then resends the read, which takes a2…).
    const redis = new Redis(server.url);
    opened.push({ close: async () => void redis.disconnect() });
    await redis.xreadgroup("GROUP", "pipe.vertex", "c", "COUNT", 2, "STREAMS", stream, ">");
    // Hold the next read in Redis, drop its connection, let ioredis reconnect and resend it.
    await redis.client("PAUSE", 60_000, "WRITE");
    const reading = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    await vi.waitFor(async () => {
      const clients = await clientList(server.url);
      expect(clients.some((client) => client["name"] === `${name}:cmd` && client["cmd"] === "xreadgroup" && client["flags"]?.includes("b") === true)).toBe(true);
    });
    expect(await killClientsByName(server.url, `${name}:cmd`)).toBe(1);
    await redis.call("CLIENT", "UNPAUSE");
    // The resent read hands out what was stranded with what it took, in stream order, once
    // (a mark among a2… must not pass a0 and a1: redis-resent-read-watermark.redis.test.ts).
    expect(ids(await reading)).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual([]);
    expect(await buffer.usage(0)).toMatchObject({ length: 5, pending: 5 });
  });

  test("recovers entries a blocked read received after it was woken or aborted", async () => {
    const buffer = open();
    const controller = new AbortController();
    const waiting = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 5_000, signal: controller.signal });
    await sleep(30);
    // The write reaches the blocked XREADGROUP; the abort comes right after, before the reply is used.
    const write = buffer.write(0, messages("a", 2));
    controller.abort();
    await write;
    const aborted = await waiting;
    const next = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    // Whatever the race: each entry is handed out once, and none is left behind.
    expect([...ids(aborted), ...ids(next)].sort()).toEqual(["a0", "a1"]);
    expect(ids(aborted)).toEqual([]);
  });

  test("listens to a reader's signal once, however many of its reads block, and an abort still ends a blocked read", async () => {
    const buffer = open();
    const { controller, added } = listenedController();
    const wait = () => buffer.read(0, { consumer: "c", max: 10, timeoutMs: 60_000, signal: controller.signal });
    // The read's XREADGROUP BLOCK is in Redis (on this test's blocking connection).
    const blocked = () =>
      vi.waitFor(async () => {
        const clients = await clientList(redisUrl);
        expect(clients.some((client) => client["name"]?.startsWith(`${prefix}:block`) === true && client["cmd"] === "xreadgroup" && client["flags"]?.includes("b") === true)).toBe(true);
      });
    for (let i = 0; i < 5; i += 1) {
      const waiting = wait();
      await blocked();
      await buffer.write(0, messages(`m${i}-`, 1));
      const batch = await waiting;
      expect(ids(batch)).toEqual([`m${i}-0`]);
      await buffer.ack(0, offsets(batch));
    }
    expect(added).toEqual(["abort"]);
    const waiting = wait();
    await blocked();
    controller.abort();
    // The slice in Redis finishes (≤ blockSliceMs) and the read returns empty, long before its timeout.
    expect((await waiting).entries).toEqual([]);
    expect(added).toEqual(["abort"]);
  });

  test("hands out an entry delivered to the consumer but never handed out before reporting end of stream", async () => {
    const buffer = open({ upstreams: ["up"] });
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 2));
    // Redis delivered a1 to consumer "c" without the buffer seeing the reply — what a blocked
    // read woken by the end of stream leaves behind when Redis served it just before.
    expect(ids(await buffer.read(0, { consumer: "c", max: 1, timeoutMs: 0 }))).toEqual(["a0"]);
    await admin().xreadgroup("GROUP", "pipe.vertex", "c", "COUNT", 1, "STREAMS", stream, ">");
    await buffer.endOfStream("up");
    const last = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect({ ids: ids(last), endOfStream: last.endOfStream }).toEqual({ ids: ["a1"], endOfStream: false });
    expect(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 })).toEqual({ entries: [], endOfStream: true });
  });

  test("looking for stranded entries counts no delivery of the entries in flight (delivery counts are death counts)", async () => {
    const buffer = open({ upstreams: ["up"] });
    const stream = buffer.keysOf(0).stream;
    await buffer.write(0, messages("a", 3));
    expect(ids(await buffer.read(0, { consumer: "c", max: 2, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
    // a2 is stranded: delivered to "c" without the buffer seeing the reply.
    await admin().xreadgroup("GROUP", "pipe.vertex", "c", "COUNT", 1, "STREAMS", stream, ">");
    await buffer.endOfStream("up");
    // Every read at the end looks for stranded entries while a0 and a1 are still being processed.
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a2"]);
    for (let i = 0; i < 3; i++) expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual([]);
    const deliveries = (await buffer.pendingDeliveries(0, { consumer: "c", max: 10 })).map((entry) => entry.deliveries);
    expect(deliveries).toEqual([1, 1, 1]);
  });

  test("reports BUFFER_STREAM_ENDED from the script and STREAM ids as offsets", async () => {
    const buffer = open({ upstreams: ["up"] });
    await buffer.write(0, messages("a", 1));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(batch.entries[0]?.offset).toMatch(/^\d+-\d+$/);
    await buffer.endOfStream("up");
    await expectBufferError(buffer.write(0, messages("b", 1)), "BUFFER_STREAM_ENDED");
    await expectBufferError(buffer.ack(0, ["12"]), "BUFFER_INVALID_OFFSET");
    await expectBufferError(buffer.read(0, { consumer: "c", max: 1, timeoutMs: 0, fromPending: true, after: "x" }), "BUFFER_INVALID_OFFSET");
  });

  test("reads with a password and a database from the URL", async () => {
    const server = await startRedisServer({ requirepass: "p@ss:word" });
    opened.push({ close: () => server.stop() });
    const authUrl = `redis://default:${encodeURIComponent("p@ss:word")}@127.0.0.1:${server.port}/3`;
    const buffer = new RedisStreamBuffer({ ...base(), connection: { url: authUrl }, keyPrefix: prefix });
    opened.push(buffer);
    await buffer.write(0, messages("a", 2));
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
    const db3 = new Redis(`redis://:${encodeURIComponent("p@ss:word")}@127.0.0.1:${server.port}/3`);
    opened.push({ close: async () => void db3.disconnect() });
    expect(await db3.exists(partitionKeys(prefix, "pipe.vertex", 0).stream)).toBe(1);
    const wrong = new RedisStreamBuffer({
      ...base(),
      connection: { url: `redis://127.0.0.1:${server.port}`, maxRetriesPerRequest: 0 },
      keyPrefix: prefix,
    });
    opened.push(wrong);
    await expect(wrong.write(0, messages("a", 1))).rejects.toBeInstanceOf(BufferError);
  });
});

describe("Redis buffer pieces (no server needed)", () => {
  it("parses redis:// and rediss:// URLs with user, password and db", () => {
    expect(redisOptionsFromUrl("redis://127.0.0.1:6390")).toEqual({ host: "127.0.0.1", port: 6390 });
    expect(redisOptionsFromUrl("redis://cache")).toEqual({ host: "cache", port: 6379 });
    expect(redisOptionsFromUrl("rediss://app:s%3Acr%40t@cache.internal:6380/2")).toEqual({
      host: "cache.internal",
      port: 6380,
      username: "app",
      password: "s:cr@t",
      db: 2,
      tls: { servername: "cache.internal" },
    });
    expect(redisOptionsFromUrl("rediss://:pw@10.0.0.5/0", { rejectUnauthorized: false })).toEqual({
      host: "10.0.0.5",
      port: 6379,
      password: "pw",
      db: 0,
      tls: { rejectUnauthorized: false },
    });
    expect(redisOptionsFromUrl("redis://[::1]:7000").host).toBe("::1");
    for (const bad of ["http://host", "not a url", "redis://host/abc", "redis://user@host", "redis://"]) {
      expect(() => redisOptionsFromUrl(bad), bad).toThrow(expect.objectContaining({ code: "BUFFER_INVALID_OPTIONS" }));
    }
    // A rejected URL never shows its password.
    expect(() => redisOptionsFromUrl("redis://u:secret@host/x")).toThrow(expect.not.stringContaining("secret"));
  });

  it("enables TLS on the ioredis client for rediss://", async () => {
    const connection = new RedisConnection({ url: "rediss://:pw@127.0.0.1:1/4", maxRetriesPerRequest: 0, backoff: { initialMs: 60_000 } });
    const options = (connection.client as Redis).options;
    expect(options.tls).toEqual({});
    expect(options).toMatchObject({ host: "127.0.0.1", port: 1, password: "pw", db: 4, protocol: 2, connectionName: "weir:cmd" });
    await connection.close();
  });

  it("backs off exponentially up to a cap, with jitter", () => {
    const backoff = { initialMs: 50, factor: 2, maxMs: 2000, jitter: 0.2 };
    expect([1, 2, 3, 6, 7, 50].map((n) => reconnectDelay(n, backoff, () => 0))).toEqual([50, 100, 200, 1600, 2000, 2000]);
    expect(reconnectDelay(1, backoff, () => 1)).toBe(60);
  });

  it("builds hash-tagged keys and same-slot sink dedup keys", () => {
    expect(partitionKeys("weir", "demo.out", 2)).toEqual({
      tag: "{demo.out.2}",
      stream: "weir:{demo.out.2}",
      dedupSets: ["weir:{demo.out.2}:dedup-0", "weir:{demo.out.2}:dedup-1"],
      eos: "weir:{demo.out.2}:eos",
      length: "weir:{demo.out.2}:length",
      frameProgress: "weir:{demo.out.2}:frame-progress",
      delayed: "weir:{demo.out.2}:delayed",
      delayedMessages: "weir:{demo.out.2}:delayed-messages",
      delayedReleased: "weir:{demo.out.2}:delayed-released",
      windows: "weir:{demo.out.2}:windows",
      watermark: "weir:{demo.out.2}:watermark",
      watermarkView: "weir:{demo.out.2}:watermark-view",
      windowsOwner: "weir:{demo.out.2}:windows-owner",
      windowsLastCommit: "weir:{demo.out.2}:windows-last-commit",
    });
    expect(hashTagOf("a{b}c{d}")).toBe("b");
    expect(hashTagOf("a{}b")).toBe("a{}b");
    expect(hashTagOf("plain")).toBe("plain");
    expect(hashTagOf(sinkDedupKey("weir", "orders"))).toBe("orders");
    expect(hashTagOf(sinkDedupKey("weir", "orders:{eu}"))).toBe("eu");
    expect(() => sinkDedupKey("weir", "a{}b")).toThrow(expect.objectContaining({ code: "BUFFER_INVALID_OPTIONS" }));
    expect(() => new RedisStreamBuffer({ name: "a{b}", partitions: 1, maxLength: 1, usageLimit: 1, upstreams: [], connection: { url: "redis://x" } })).toThrow(
      expect.objectContaining({ code: "BUFFER_INVALID_OPTIONS" }),
    );
  });

  it("versions every script with the package version, in its name and its text", () => {
    const version = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
    expect(WEIR_SCRIPT_VERSION).toBe(version);
    for (const script of Object.values(scripts)) {
      expect(script.command).toBe(`weir_${version.replace(/[^a-zA-Z0-9]/g, "_")}_${script.name}`);
      const header = script.lua.slice(0, script.lua.indexOf("]]"));
      expect(header).toContain(`weir@${version} ${script.name}-${script.numberOfKeys}`);
      for (const part of ["Purpose:", "KEYS[1]", "ARGV[1]", "Returns:"]) expect(header).toContain(part);
    }
  });

  it("encodes messages compactly and decodes them exactly", () => {
    const message: Message = { id: "id-1", keys: ["a", "b"], value: Uint8Array.from([1, 2, 3]), eventTime: 1_700_000_000_000, headers: { h: "v" } };
    const encoded = encodeMessage(message);
    // version, eventTime, id, 2 keys, 1 header, value: 27 bytes.
    expect(encoded.length).toBe(1 + 8 + (1 + 4) + 1 + 2 * (1 + 1) + 1 + (1 + 1) + (1 + 1) + 3);
    expect(decodeMessage(encoded)).toEqual(message);
    expect(() => decodeMessage(Buffer.from("garbage"))).toThrow(expect.objectContaining({ code: "BUFFER_CORRUPT_ENTRY" }));
    const truncated = encoded.subarray(0, 12);
    expect(() => decodeMessage(truncated)).toThrow(expect.objectContaining({ code: "BUFFER_CORRUPT_ENTRY" }));
  });
});
