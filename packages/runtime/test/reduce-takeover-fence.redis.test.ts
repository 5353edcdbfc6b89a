/**
 * A reduce partition taken over while its old worker still runs (fault scenario "reduce": Redis
 * down longer than the lease's ttl, a standby takes the lease while the holder has not noticed
 * yet). The old worker may still read new entries — pending for itself — and commit them; its
 * commit writes its in-memory windows over the ones the new worker loaded and committed since,
 * so counts are lost (scenario: 60 windows short by 1–2). Loading a partition makes the loader
 * its owner (a key under the partition's hash tag); a commit by any other consumer changes nothing
 * and returns 0, which the reduce vertex reports as REDUCE_PARTITION_LOST.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStreamBuffer } from "../src/buffer/index.js";
import { createRedisWindowStore } from "../src/reduce/redis-window-store.js";
import { findRedisServer, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { change, delivered, messages } from "./window-store-conformance.js";

/** Writes `count` messages with ids `<prefix><i>` and reads them as `consumer`; their offsets. */
async function read(buffer: RedisStreamBuffer, consumer: string, prefix: string, count: number): Promise<string[]> {
  await buffer.write(0, messages(prefix, count));
  return (await buffer.read(0, { consumer, max: count, timeoutMs: 0 })).entries.map((entry) => entry.offset);
}

describe.skipIf(findRedisServer() === undefined)("Redis window store: a partition taken over by another worker", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses the old worker's commit once the new one loaded the partition, even of entries pending for the old one", async () => {
    const buffer = new RedisStreamBuffer({ name: "tf.reduce", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix: uniquePrefix("tf"), connection: { url: server.url } });
    try {
      const old = createRedisWindowStore({ buffer, consumer: "a" });
      const taker = createRedisWindowStore({ buffer, consumer: "b" });
      await old.load(0);
      expect(await old.commit(0, await delivered(buffer, 0, "a", 1), change({ w: '{"count":1}' }), 10)).toBe(1);
      // b takes the partition over and commits; a, not knowing yet, read more and commits its stale view.
      expect(await taker.load(0)).toEqual({ windows: new Map([["w", '{"count":1}']]), watermark: 10 });
      const late = await read(buffer, "a", "late-", 2);
      expect(await taker.commit(0, [], change({ w: '{"count":5}' }), 20)).toBe(0);
      expect(await old.commit(0, late, change({ w: '{"count":3}' }), 15)).toBe(0);
      expect(await taker.load(0)).toEqual({ windows: new Map([["w", '{"count":5}']]), watermark: 20 });
      // The refused entries stay pending, for the new worker to adopt.
      expect(await buffer.usage(0)).toMatchObject({ pending: 2 });
    } finally {
      await buffer.close();
    }
  });

  it("answers a commit sent again after its reply was lost as applied, and changes nothing more", async () => {
    const buffer = new RedisStreamBuffer({ name: "tf.reduce", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix: uniquePrefix("tf"), connection: { url: server.url } });
    try {
      const store = createRedisWindowStore({ buffer, consumer: "a" });
      await store.load(0);
      const offsets = await delivered(buffer, 0, "a", 2);
      expect(await store.commit(0, offsets, change({ w: '{"count":2}' }), 10)).toBe(2);
      expect(await store.commit(0, offsets, change({ w: '{"count":2}' }), 10)).toBe(2);
      // Not the last commit: an older one sent again, or a part of it, is refused.
      expect(await store.commit(0, offsets.slice(1), change({ w: '{"count":9}' }), 11)).toBe(0);
      expect(await store.load(0)).toEqual({ windows: new Map([["w", '{"count":2}']]), watermark: 10 });
      // Another consumer sending the same offsets is not a replay.
      expect(await createRedisWindowStore({ buffer, consumer: "b" }).commit(0, offsets, change({ w: "x" }), 12)).toBe(0);
    } finally {
      await buffer.close();
    }
  });

  it("refuses the old worker's forget once the new one loaded the partition: the new holder's windows stay", async () => {
    const buffer = new RedisStreamBuffer({ name: "tf.reduce", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix: uniquePrefix("tf"), connection: { url: server.url } });
    try {
      const old = createRedisWindowStore({ buffer, consumer: "a" });
      const taker = createRedisWindowStore({ buffer, consumer: "b" });
      await old.load(0);
      expect(await old.commit(0, await delivered(buffer, 0, "a", 1), change({ w: '{"count":1}', v: '{"count":1}' }), 10)).toBe(1);
      await taker.load(0);
      // a, taken over, emitted w and forgets it; b has not emitted it yet, so it must stay.
      await old.forget(0, ["w"]);
      expect((await taker.load(0)).windows).toEqual(new Map([["w", '{"count":1}'], ["v", '{"count":1}']]));
      // The owner's forget applies; a forget of a missing field is a no-op.
      await taker.forget(0, ["w", "gone"]);
      expect((await taker.load(0)).windows).toEqual(new Map([["v", '{"count":1}']]));
    } finally {
      await buffer.close();
    }
  });

  it("a restarted worker under the same consumer name loads and commits as before", async () => {
    const buffer = new RedisStreamBuffer({ name: "tf.reduce", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix: uniquePrefix("tf"), connection: { url: server.url } });
    try {
      const first = createRedisWindowStore({ buffer, consumer: "a" });
      await first.load(0);
      const again = createRedisWindowStore({ buffer, consumer: "a" });
      await again.load(0);
      expect(await again.commit(0, await delivered(buffer, 0, "a", 1), change({ w: "1" }), 1)).toBe(1);
    } finally {
      await buffer.close();
    }
  });
});
