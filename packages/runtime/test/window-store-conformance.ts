/**
 * The contract of `WindowStore` (reduce/window-store.ts) as a vitest suite, run against the
 * memory store (window-store.test.ts) and the Redis store (redis-window-store.redis.test.ts).
 * Each test gets a fresh input buffer (2 partitions) holding messages read by consumer "c1",
 * and stores acking through it.
 */
import type { Message } from "@weir/actors";
import { afterEach, describe, expect, it } from "vitest";
import type { PartitionedBuffer } from "../src/buffer/index.js";
import type { WindowStore } from "../src/reduce/window-store.js";
import type { WindowStateChange } from "../src/reduce/window-state.js";

/** A fresh input buffer and a way to build stores on it, per consumer. */
export interface WindowStoreFixture {
  readonly buffer: PartitionedBuffer;
  store(consumer: string): WindowStore;
  /** Releases the buffer and whatever the fixture made (keys, connections). */
  close(): Promise<void>;
}

export type MakeWindowStoreFixture = () => Promise<WindowStoreFixture>;

export function change(set: Record<string, string>, remove: readonly string[] = []): WindowStateChange {
  return { set: new Map(Object.entries(set)), remove };
}

export function messages(prefix: string, count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, keys: [], value: new Uint8Array([i]), eventTime: 1_000 + i, headers: {} }));
}

/** Writes `count` messages to `partition` and reads them as `consumer`; returns their offsets. */
export async function delivered(buffer: PartitionedBuffer, partition: number, consumer: string, count: number): Promise<string[]> {
  await buffer.write(partition, messages(`p${partition}-`, count));
  const batch = await buffer.read(partition, { consumer, max: count, timeoutMs: 0 });
  expect(batch.entries).toHaveLength(count);
  return batch.entries.map((entry) => entry.offset);
}

export function describeWindowStoreConformance(label: string, makeFixture: MakeWindowStoreFixture): void {
  describe(`${label} — WindowStore conformance`, () => {
    const fixtures: WindowStoreFixture[] = [];
    async function make(): Promise<WindowStoreFixture> {
      const fixture = await makeFixture();
      fixtures.push(fixture);
      return fixture;
    }
    afterEach(async () => {
      await Promise.allSettled(fixtures.splice(0).map((fixture) => fixture.close()));
    });

    it("starts empty, with no watermark", async () => {
      const { store } = await make();
      expect(await store("c1").load(0)).toEqual({ windows: new Map(), watermark: undefined });
    });

    it("a commit acks exactly its offsets and applies the change and the watermark", async () => {
      const { buffer, store } = await make();
      const offsets = await delivered(buffer, 0, "c1", 3);
      const c1 = store("c1");
      expect(await c1.commit(0, offsets.slice(0, 2), change({ a: '{"n":1}', b: '{"n":2}' }), 100)).toBe(2);
      expect(await buffer.usage(0)).toMatchObject({ length: 1, pending: 1 });
      expect(await c1.load(0)).toEqual({ windows: new Map([["a", '{"n":1}'], ["b", '{"n":2}']]), watermark: 100 });

      // The next commit overwrites, removes, and leaves the watermark alone when given none.
      expect(await c1.commit(0, offsets.slice(2), change({ b: '{"n":3}' }, ["a"]), undefined)).toBe(1);
      expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
      expect(await c1.load(0)).toEqual({ windows: new Map([["b", '{"n":3}']]), watermark: 100 });
    });

    it("counts an offset given twice once", async () => {
      const { buffer, store } = await make();
      const [first] = await delivered(buffer, 0, "c1", 1);
      expect(await store("c1").commit(0, [first!, first!], change({ a: "1" }), 5)).toBe(1);
      expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
    });

    it("a commit with no offsets still applies the change and the watermark", async () => {
      const { store } = await make();
      const c1 = store("c1");
      expect(await c1.commit(0, [], change({ a: "1" }), 42)).toBe(0);
      expect(await c1.load(0)).toEqual({ windows: new Map([["a", "1"]]), watermark: 42 });
    });

    it("keeps partitions apart", async () => {
      const { buffer, store } = await make();
      const offsets = await delivered(buffer, 1, "c1", 2);
      const c1 = store("c1");
      expect(await c1.commit(1, offsets, change({ a: "1" }), 7)).toBe(2);
      expect(await c1.load(0)).toEqual({ windows: new Map(), watermark: undefined });
      expect(await c1.load(1)).toEqual({ windows: new Map([["a", "1"]]), watermark: 7 });
    });

    describe("applies only if every offset is still pending for its consumer (a zombie must not double-count)", () => {
      it("changes nothing and returns 0 when the entries are pending for another consumer", async () => {
        const { buffer, store } = await make();
        const offsets = await delivered(buffer, 0, "c1", 2);
        expect(await store("c2").commit(0, offsets, change({ a: "1" }), 9)).toBe(0);
        expect(await buffer.usage(0)).toMatchObject({ length: 2, pending: 2 });
        expect(await store("c1").load(0)).toEqual({ windows: new Map(), watermark: undefined });
      });

      it("a worker whose entries were claimed commits nothing; the claimer's commit applies", async () => {
        const { buffer, store } = await make();
        const offsets = await delivered(buffer, 0, "c1", 3);
        const claimed = await buffer.claimIdle(0, "c2", 0, 1);
        expect(claimed.map((entry) => entry.offset)).toEqual([offsets[0]]);
        const zombie = store("c1");
        const owner = store("c2");
        expect(await zombie.commit(0, offsets, change({ a: "zombie" }), 50)).toBe(0);
        expect(await buffer.usage(0)).toMatchObject({ length: 3, pending: 3 });
        expect(await owner.commit(0, [offsets[0]!], change({ a: "owner" }), 10)).toBe(1);
        expect(await owner.load(0)).toEqual({ windows: new Map([["a", "owner"]]), watermark: 10 });
        expect(await buffer.usage(0)).toMatchObject({ length: 2, pending: 2 });
      });

      it("changes nothing and returns 0 when an offset was acked already", async () => {
        const { buffer, store } = await make();
        const offsets = await delivered(buffer, 0, "c1", 2);
        expect(await buffer.ack(0, [offsets[0]!])).toBe(1);
        const c1 = store("c1");
        expect(await c1.commit(0, offsets, change({ a: "1" }), 3)).toBe(0);
        expect(await buffer.usage(0)).toMatchObject({ length: 1, pending: 1 });
        expect(await c1.load(0)).toEqual({ windows: new Map(), watermark: undefined });
      });
    });

    it("forget deletes the given windows only, and is idempotent", async () => {
      const { store } = await make();
      const c1 = store("c1");
      await c1.commit(0, [], change({ a: "1", b: "2", c: "3" }), 1);
      await c1.forget(0, ["a", "c"]);
      await c1.forget(0, ["a", "c"]);
      await c1.forget(0, []);
      expect(await c1.load(0)).toEqual({ windows: new Map([["b", "2"]]), watermark: 1 });
    });

    it("refuses a malformed offset without acking any of the batch", async () => {
      const { buffer, store } = await make();
      const offsets = await delivered(buffer, 0, "c1", 1);
      await expect(store("c1").commit(0, [...offsets, "not an offset"], change({ a: "1" }), 1)).rejects.toMatchObject({ code: "BUFFER_INVALID_OFFSET" });
      expect(await buffer.usage(0)).toMatchObject({ length: 1, pending: 1 });
    });
  });
}
