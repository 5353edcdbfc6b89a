/**
 * A read or a claim that ioredis resent after its connection dropped (Redis restarted, the
 * connection killed) must not hand out what it got before the entries its first run delivered
 * and nobody received (stranded, pending for the consumer): a mark among the resent reply's
 * entries would otherwise raise the reader's watermark past them, and they would be absorbed —
 * by a reduce vertex — as late (I7; fault scenario "reduce", seed 20241912: three windows one short
 * right after a Redis restart, design notes "Issue 12, session 12 — wm").
 *
 * The lost reply is staged: an admin client delivers the first entries to the consumer (what the
 * first run of the command did), then the buffer's connection is killed while its command waits
 * in Redis, and ioredis resends it on the new connection.
 */
import { Redis } from "ioredis";
import { afterEach, expect, it, vi } from "vitest";
import { RedisStreamBuffer } from "../src/buffer/index.js";
import { encodeMark, encodeMessage, ENTRY_FIELD, MARK_FIELD } from "../src/buffer/redis/encoding.js";
import { ids, messages } from "./buffer-conformance.js";
import { clientList, killClientsByName, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";

const GROUP = "pipe.counts";
const T = 1_700_000_000_000;
const MARK = { writer: "up/0", processor: "w1", watermark: T + 10 };

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  // Last opened, first closed: the buffers and clients before their server.
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function setUp(): Promise<{ server: RedisServer; buffer: RedisStreamBuffer; admin: Redis; name: string; stream: string }> {
  // A private server: CLIENT PAUSE and CLIENT KILL must not reach other test files' connections.
  const server = await startRedisServer();
  opened.push({ close: () => server.stop() });
  const name = uniquePrefix("resent");
  const buffer = new RedisStreamBuffer({
    name: GROUP,
    partitions: 1,
    maxLength: 1_000,
    usageLimit: 1,
    upstreams: ["up"],
    watermarkWriters: ["up/0"],
    connection: { url: server.url, name },
    keyPrefix: name,
    blockSliceMs: 100,
  });
  opened.push(buffer);
  const admin = new Redis(server.url);
  opened.push({ close: async () => void admin.disconnect() });
  return { server, buffer, admin, name, stream: buffer.keysOf(0).stream };
}

/** Waits until the client named `name…` has a command `command…` held in Redis (paused or blocked: flag `b`). */
async function waitHeld(url: string, name: string, command: string): Promise<void> {
  await vi.waitFor(async () => {
    const clients = await clientList(url);
    expect(clients.some((client) => client["name"]?.startsWith(name) === true && client["cmd"]?.startsWith(command) === true && client["flags"]?.includes("b") === true)).toBe(true);
  }, { timeout: 10_000, interval: 10 });
}

/** Kills the connection `name…` while its command is paused in Redis, then lets Redis run again: ioredis resends the command. */
async function killWhilePaused(server: RedisServer, admin: Redis, name: string, command: string): Promise<void> {
  await waitHeld(server.url, name, command);
  expect(await killClientsByName(server.url, name)).toBe(1);
  await admin.call("CLIENT", "UNPAUSE");
}

it("a resent read hands out the entries its lost first run delivered before the mark that follows them", async () => {
  const { server, buffer, admin, name, stream } = await setUp();
  await buffer.write(0, messages("a", 2)); // event times T, T + 1
  await buffer.writeWatermark(0, MARK);
  await buffer.write(0, messages("b", 2));
  // The read's first run: Redis delivered a0 and a1 to "c", and the reply was lost with the connection.
  await admin.xreadgroup("GROUP", GROUP, "c", "COUNT", 2, "STREAMS", stream, ">");
  await admin.call("CLIENT", "PAUSE", 60_000, "WRITE");
  const reading = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
  await killWhilePaused(server, admin, `${name}:cmd`, "xreadgroup");
  const first = await reading;
  // The resend delivers the mark, b0 and b1; a0 and a1 (event times below the mark) come with them, before it.
  expect({ ids: ids(first), watermark: first.watermark }).toEqual({ ids: ["a0", "a1", "b0", "b1"], watermark: T + 10 });
  expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual([]);
}, 30_000);

it("a resent blocking read hands out the entries its lost first run delivered before the mark that follows them", async () => {
  const { server, buffer, admin, name, stream } = await setUp();
  const reading = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 60_000 });
  await waitHeld(server.url, `${name}:block`, "xreadgroup");
  expect(await killClientsByName(server.url, `${name}:block`)).toBe(1);
  // Before or after the read is resent (served after this step either way): a0, a1, a mark, b0
  // and b1 are written, and a0 and a1 delivered to "c" by a run of the read whose reply was lost.
  const data = messages("a", 2).concat(messages("b", 2));
  await admin
    .multi()
    .xadd(stream, "*", ENTRY_FIELD, encodeMessage(data[0]!))
    .xadd(stream, "*", ENTRY_FIELD, encodeMessage(data[1]!))
    .xadd(stream, "*", MARK_FIELD, encodeMark(MARK))
    .xadd(stream, "*", ENTRY_FIELD, encodeMessage(data[2]!))
    .xadd(stream, "*", ENTRY_FIELD, encodeMessage(data[3]!))
    .xreadgroup("GROUP", GROUP, "c", "COUNT", 2, "STREAMS", stream, ">")
    .exec();
  const first = await reading;
  expect({ ids: ids(first), watermark: first.watermark }).toEqual({ ids: ["a0", "a1", "b0", "b1"], watermark: T + 10 });
}, 30_000);

it("a resent claim hands out the entries its lost first run took over, with those it takes", async () => {
  const { server, buffer, admin, name, stream } = await setUp();
  await buffer.write(0, messages("a", 4));
  // A dead consumer "old" holds a0…a3; the claim's first run took a0 and a1 for "c", its reply lost.
  const [[, delivered]] = (await admin.xreadgroup("GROUP", GROUP, "old", "COUNT", 4, "STREAMS", stream, ">")) as [[string, Array<[string, string[]]>]];
  await admin.xclaim(stream, GROUP, "c", 0, delivered[0]![0], delivered[1]![0]);
  await admin.call("CLIENT", "PAUSE", 60_000, "WRITE");
  const claiming = buffer.claimIdle(0, "c", 0, 10);
  // The claim script (EVAL the first time on a connection, then EVALSHA).
  await killWhilePaused(server, admin, `${name}:cmd`, "eval");
  // A reduce read adds what it takes over to the batch whose watermark commits with it (pipeline/reduce-read.ts).
  expect((await claiming).map((entry) => entry.message.id)).toEqual(["a0", "a1", "a2", "a3"]);
}, 30_000);

it("a resent claim hands out what it took back from another consumer after this buffer had handed it out", async () => {
  const { server, buffer, admin, name, stream } = await setUp();
  await buffer.write(0, messages("a", 2));
  expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
  // Another worker took a0 and a1 over (a takeover while "c" stalled); "c" takes them back.
  const pending = await buffer.pendingDeliveries(0, { max: 10 });
  await admin.xclaim(stream, GROUP, "other", 0, ...pending.map((entry) => entry.offset));
  await admin.call("CLIENT", "PAUSE", 60_000, "WRITE");
  const claiming = buffer.claimIdle(0, "c", 0, 10);
  await killWhilePaused(server, admin, `${name}:cmd`, "eval");
  expect((await claiming).map((entry) => entry.message.id)).toEqual(["a0", "a1"]);
}, 30_000);
