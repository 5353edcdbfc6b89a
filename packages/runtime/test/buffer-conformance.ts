/**
 * The contract of `PartitionedBuffer` as a vitest suite. Every implementation runs it: the memory
 * buffer in `memory-buffer.test.ts`, the Redis buffer in its `*.redis.test.ts`, wrappers such as
 * the testkit's `FaultyBuffer` with no fault armed. An implementation may add its own tests, but
 * may not pass these by special-casing them.
 *
 * Time-based checks use real time with wide margins (a Redis round trip must fit in them), and
 * never assert exact timings, only "woke early" / "did not wake early".
 */
import { randomUUID } from "node:crypto";
import type { Message, ReadEntry } from "@weir/actors";
import { afterEach, describe, expect, it } from "vitest";
import { BufferError } from "../src/buffer/index.js";
import type { BufferOptions, PartitionedBuffer, ReadBatch } from "../src/buffer/index.js";

/** Builds the buffer under test; the suite closes every buffer it made after each test. */
/**
 * A read timeout longer than any test's: a read that should be woken (by a write, an end of stream,
 * an abort or close) and is not, fails by the test's own timeout — no wall-clock assertion needed.
 */
const WAIT_PAST_THE_TEST = 600_000;

export type MakeBuffer = (options: BufferOptions) => Promise<PartitionedBuffer>;

/** What an implementation does differently, within the contract. */
export interface ConformanceCapabilities {
  /**
   * A stream entry holds a whole partition-write (the Redis buffer's `framed`): delivery, pending
   * counts, claims and the entry's removal are per entry, not per message.
   */
  readonly framedEntries?: boolean;
}

/**
 * Registers the conformance suite for one implementation.
 *
 * @param label names the implementation in the test report.
 * @param makeBuffer builds a fresh buffer; each test passes a unique `name`, so a shared store
 *   (Redis) needs no cleanup between tests to stay isolated.
 * @param cleanup runs after each test, once the suite has closed the test's buffers (e.g. delete
 *   the keys the test created).
 *
 * @example
 * ```ts
 * describeBufferConformance("MemoryBuffer", async (options) => new MemoryBuffer(options));
 * ```
 */
export function describeBufferConformance(
  label: string,
  makeBuffer: MakeBuffer,
  cleanup?: () => Promise<void> | void,
  capabilities: ConformanceCapabilities = {},
): void {
  // Tests whose assertions count delivery units (what one consumer gets, what `pending` counts,
  // what one ack frees, what a claim or a pending re-read moves) in messages; a framed buffer's
  // unit is the partition-write. redis-frames.redis.test.ts states the framed counterparts.
  const perMessage = capabilities.framedEntries === true ? it.skip : it;
  describe(`${label} — PartitionedBuffer conformance`, () => {
    const opened: PartitionedBuffer[] = [];
    const suiteId = randomUUID().slice(0, 8);
    let testNo = 0;

    async function make(overrides: Partial<BufferOptions> = {}): Promise<PartitionedBuffer> {
      const buffer = await makeBuffer({
        name: `conformance-${suiteId}-${++testNo}.v`,
        partitions: 2,
        maxLength: 1000,
        usageLimit: 1,
        upstreams: [],
        ...overrides,
      });
      opened.push(buffer);
      return buffer;
    }

    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((buffer) => buffer.close()));
      await cleanup?.();
    });

    describe("write and read", () => {
      it("returns a partition's entries in write order, with increasing offsets", async () => {
        const buffer = await make();
        expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 5 });
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(ids(batch)).toEqual(["a0", "a1", "a2", "a3", "a4"]);
        expect(batch.endOfStream).toBe(false);
        expectIncreasing(batch.entries);
        expect(batch.entries[0]?.message).toEqual(messages("a", 1)[0]);
      });

      it("keeps offsets increasing across separate writes", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 2));
        const first = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        await buffer.ack(0, offsets(first));
        await buffer.write(0, messages("b", 2));
        const second = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expectIncreasing([...first.entries, ...second.entries]);
      });

      it("returns at most max entries and the rest on the next read", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 5));
        expect(ids(await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
        expect(ids(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 }))).toEqual(["a2", "a3", "a4"]);
      });

      perMessage("delivers each entry to one consumer only", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 4));
        const c1 = await buffer.read(0, { consumer: "c1", max: 3, timeoutMs: 0 });
        const c2 = await buffer.read(0, { consumer: "c2", max: 10, timeoutMs: 0 });
        expect(ids(c1)).toEqual(["a0", "a1", "a2"]);
        expect(ids(c2)).toEqual(["a3"]);
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 })).entries).toEqual([]);
      });

      perMessage("keeps partitions independent", async () => {
        const buffer = await make({ partitions: 3, maxLength: 10 });
        await buffer.write(0, messages("p0-", 3));
        await buffer.write(2, messages("p2-", 10));
        expect(ids(await buffer.read(1, { consumer: "c1", max: 10, timeoutMs: 0 }))).toEqual([]);
        const p2 = await buffer.read(2, { consumer: "c1", max: 2, timeoutMs: 0 });
        expect(ids(p2)).toEqual(["p2-0", "p2-1"]);
        // A full partition does not limit another one.
        expect((await buffer.usage(2)).isFull).toBe(true);
        expect(await buffer.write(1, messages("p1-", 4))).toEqual({ written: 4 });
        await buffer.ack(2, offsets(p2));
        expect(await buffer.usage(0)).toMatchObject({ length: 3, pending: 0 });
        expect(await buffer.usage(2)).toMatchObject({ length: 8, pending: 0 });
        expect(ids(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 }))).toEqual(["p0-0", "p0-1", "p0-2"]);
      });

      it("writes nothing for an empty batch", async () => {
        const buffer = await make();
        expect(await buffer.write(0, [])).toEqual({ written: 0 });
        expect((await buffer.usage(0)).length).toBe(0);
      });

      it("returns an empty batch at once when timeoutMs is 0", async () => {
        const buffer = await make();
        // A read that treated 0 as "wait forever" (Redis's BLOCK 0) never returns: the test times out.
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(batch).toEqual({ entries: [], endOfStream: false });
      });

      it("waits up to timeoutMs on an empty partition, then returns an empty batch", async () => {
        const buffer = await make();
        const started = Date.now();
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 120 });
        expect(batch).toEqual({ entries: [], endOfStream: false });
        expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      });
    });

    describe("capacity and usage", () => {
      it("writes only the prefix that fits under floor(maxLength × usageLimit)", async () => {
        const buffer = await make({ maxLength: 10, usageLimit: 0.75 });
        expect(await buffer.write(0, messages("a", 10))).toEqual({ written: 7 });
        expect(await buffer.write(0, messages("b", 3))).toEqual({ written: 0 });
        const batch = await buffer.read(0, { consumer: "c1", max: 100, timeoutMs: 0 });
        expect(ids(batch)).toEqual(["a0", "a1", "a2", "a3", "a4", "a5", "a6"]);
      });

      perMessage("fills up in several writes and frees capacity on ack, not on read", async () => {
        const buffer = await make({ maxLength: 10, usageLimit: 0.8 });
        expect(await buffer.write(0, messages("a", 5))).toEqual({ written: 5 });
        expect(await buffer.write(0, messages("b", 5))).toEqual({ written: 3 });
        const batch = await buffer.read(0, { consumer: "c1", max: 4, timeoutMs: 0 });
        expect(await buffer.write(0, messages("c", 1))).toEqual({ written: 0 });
        await buffer.ack(0, offsets(batch).slice(0, 2));
        expect(await buffer.write(0, messages("d", 5))).toEqual({ written: 2 });
      });

      perMessage("reports length, pending, usage and isFull", async () => {
        const buffer = await make({ maxLength: 10, usageLimit: 0.8 });
        expect(await buffer.usage(0)).toEqual({ length: 0, pending: 0, maxLength: 10, usage: 0, isFull: false });
        await buffer.write(0, messages("a", 10));
        expect(await buffer.usage(0)).toEqual({ length: 8, pending: 0, maxLength: 10, usage: 0.8, isFull: true });
        const batch = await buffer.read(0, { consumer: "c1", max: 3, timeoutMs: 0 });
        expect(await buffer.usage(0)).toEqual({ length: 8, pending: 3, maxLength: 10, usage: 0.8, isFull: true });
        expect(await buffer.ack(0, offsets(batch).slice(0, 2))).toBe(2);
        expect(await buffer.usage(0)).toEqual({ length: 6, pending: 1, maxLength: 10, usage: 0.6, isFull: false });
        expect(await buffer.usage(1)).toEqual({ length: 0, pending: 0, maxLength: 10, usage: 0, isFull: false });
      });
    });

    describe("ack", () => {
      it("removes acked entries and counts a second ack of the same offset as 0", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 3));
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(await buffer.ack(0, offsets(batch).slice(0, 2))).toBe(2);
        expect(await buffer.ack(0, offsets(batch))).toBe(1);
        expect(await buffer.ack(0, offsets(batch))).toBe(0);
        expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
      });

      it("counts an offset repeated within one call once", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 1));
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        const [offset] = offsets(batch);
        expect(await buffer.ack(0, [offset as string, offset as string])).toBe(1);
      });

      perMessage("acks out of order", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 4));
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        const all = offsets(batch);
        expect(await buffer.ack(0, [all[3] as string, all[1] as string])).toBe(2);
        expect(await buffer.usage(0)).toMatchObject({ length: 2, pending: 2 });
        const pending = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true });
        expect(ids(pending)).toEqual(["a0", "a2"]);
        expect(await buffer.ack(0, [all[0] as string, all[2] as string])).toBe(2);
        expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
      });

      it("acks an empty list as 0", async () => {
        const buffer = await make();
        expect(await buffer.ack(0, [])).toBe(0);
      });

      it("lets any consumer ack an entry, as XACK does", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 1));
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(await buffer.ack(0, offsets(batch))).toBe(1);
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true })).entries).toEqual([]);
      });
    });

    describe("pending entries", () => {
      perMessage("re-reads a consumer's own unacked entries with fromPending, as after a restart", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 4));
        const before = await buffer.read(0, { consumer: "worker-1", max: 3, timeoutMs: 0 });
        await buffer.ack(0, offsets(before).slice(0, 1));
        // "Restart": the same consumer name comes back and first asks for what it still holds.
        const resumed = await buffer.read(0, { consumer: "worker-1", max: 10, timeoutMs: 0, fromPending: true });
        expect(ids(resumed)).toEqual(["a1", "a2"]);
        expect(offsets(resumed)).toEqual(offsets(before).slice(1));
        // Pending re-reads do not deliver new entries and do not change counts.
        expect(await buffer.usage(0)).toMatchObject({ length: 3, pending: 2 });
        expect(ids(await buffer.read(0, { consumer: "worker-1", max: 10, timeoutMs: 0 }))).toEqual(["a3"]);
      });

      it("never shows one consumer's pending entries to another consumer", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 3));
        await buffer.read(0, { consumer: "worker-1", max: 10, timeoutMs: 0 });
        const other = await buffer.read(0, { consumer: "worker-2", max: 10, timeoutMs: 0, fromPending: true });
        expect(other.entries).toEqual([]);
        // …nor delivers them again as new entries.
        expect((await buffer.read(0, { consumer: "worker-2", max: 10, timeoutMs: 0 })).entries).toEqual([]);
      });

      it("does not wait when there is nothing pending", async () => {
        const buffer = await make();
        // A read that waited would wait past the test's timeout.
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST, fromPending: true });
        expect(batch.entries).toEqual([]);
      });

      it("pages through pending entries with max and after", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 5));
        await buffer.read(0, { consumer: "c1", max: 5, timeoutMs: 0 });
        const page1 = await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0, fromPending: true });
        expect(ids(page1)).toEqual(["a0", "a1"]);
        const after = page1.entries[1]?.offset;
        const page2 = await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0, fromPending: true, after });
        expect(ids(page2)).toEqual(["a2", "a3"]);
        const page3 = await buffer.read(0, {
          consumer: "c1", max: 2, timeoutMs: 0, fromPending: true, after: page2.entries[1]?.offset,
        });
        expect(ids(page3)).toEqual(["a4"]);
      });

      it("keeps pending entries per partition", async () => {
        const buffer = await make();
        await buffer.write(0, messages("p0-", 1));
        await buffer.write(1, messages("p1-", 1));
        await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect((await buffer.read(1, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true })).entries).toEqual([]);
        expect(ids(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true }))).toEqual(["p0-0"]);
      });
    });

    describe("claimIdle", () => {
      perMessage("moves entries idle for at least minIdleMs from another consumer to the claimer", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 3));
        await buffer.read(0, { consumer: "dead", max: 10, timeoutMs: 0 });
        await sleep(80);
        const claimed = await buffer.claimIdle(0, "alive", 40, 10);
        expect(claimed.map((entry) => entry.message.id)).toEqual(["a0", "a1", "a2"]);
        expect((await buffer.read(0, { consumer: "dead", max: 10, timeoutMs: 0, fromPending: true })).entries).toEqual([]);
        expect(ids(await buffer.read(0, { consumer: "alive", max: 10, timeoutMs: 0, fromPending: true }))).toEqual(["a0", "a1", "a2"]);
        expect(await buffer.usage(0)).toMatchObject({ length: 3, pending: 3 });
        expect(await buffer.ack(0, claimed.map((entry) => entry.offset))).toBe(3);
        expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
      });

      it("leaves entries that have not been idle long enough", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 2));
        await buffer.read(0, { consumer: "busy", max: 10, timeoutMs: 0 });
        expect(await buffer.claimIdle(0, "alive", 60_000, 10)).toEqual([]);
        expect(ids(await buffer.read(0, { consumer: "busy", max: 10, timeoutMs: 0, fromPending: true }))).toEqual(["a0", "a1"]);
      });

      perMessage("claims at most max entries, oldest first, and resets their idle time", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 5));
        await buffer.read(0, { consumer: "dead", max: 10, timeoutMs: 0 });
        await sleep(80);
        const first = await buffer.claimIdle(0, "alive", 40, 2);
        expect(first.map((entry) => entry.message.id)).toEqual(["a0", "a1"]);
        // Just claimed: not idle any more, so a third consumer cannot take them away.
        const second = await buffer.claimIdle(0, "third", 40, 10);
        expect(second.map((entry) => entry.message.id)).toEqual(["a2", "a3", "a4"]);
      });

      perMessage("does not claim the claimer's own pending entries, nor undelivered ones", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 3));
        await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0 });
        await sleep(80);
        expect(await buffer.claimIdle(0, "c1", 40, 10)).toEqual([]);
        expect(ids(await buffer.read(0, { consumer: "c2", max: 10, timeoutMs: 0 }))).toEqual(["a2"]);
      });

      it("refreshes idle time when the owner re-reads its pending entries", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 1));
        await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        await sleep(150);
        await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true });
        expect(await buffer.claimIdle(0, "c2", 100, 10)).toEqual([]);
      });
    });

    describe("blocking reads", () => {
      it("wakes a waiting read as soon as data is written", async () => {
        const buffer = await make();
        const pending = buffer.read(0, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST });
        await sleep(30);
        await buffer.write(0, messages("a", 2));
        const batch = await pending;
        expect(ids(batch)).toEqual(["a0", "a1"]);
      });

      it("is not woken by a write to another partition", async () => {
        const buffer = await make();
        const pending = buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 200 });
        await sleep(20);
        await buffer.write(1, messages("a", 1));
        expect((await pending).entries).toEqual([]);
        expect(ids(await buffer.read(1, { consumer: "c1", max: 10, timeoutMs: 0 }))).toEqual(["a0"]);
      });

      perMessage("serves several waiting readers without delivering an entry twice", async () => {
        const buffer = await make();
        const r1 = buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 2000 });
        const r2 = buffer.read(0, { consumer: "c2", max: 2, timeoutMs: 2000 });
        await sleep(30);
        await buffer.write(0, messages("a", 3));
        const [b1, b2] = await Promise.all([r1, r2]);
        const seen = [...ids(b1), ...ids(b2)].sort();
        // Either both got part of the write, or one got it and the other timed out empty.
        const rest = ids(await buffer.read(0, { consumer: "c3", max: 10, timeoutMs: 0 }));
        expect([...seen, ...rest].sort()).toEqual(["a0", "a1", "a2"]);
      });

      it("wakes a waiting read when the stream ends", async () => {
        const buffer = await make({ upstreams: ["up"] });
        const pending = buffer.read(0, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST });
        await sleep(30);
        await buffer.endOfStream("up");
        expect(await pending).toEqual({ entries: [], endOfStream: true });
      });
    });

    describe("end of stream", () => {
      perMessage("ends only when every upstream has ended and nothing is left undelivered", async () => {
        const buffer = await make({ upstreams: ["a", "b"] });
        await buffer.write(0, messages("m", 3));
        await buffer.endOfStream("a");
        const first = await buffer.read(0, { consumer: "c1", max: 1, timeoutMs: 0 });
        expect(first.endOfStream).toBe(false);
        await buffer.endOfStream("b");
        const second = await buffer.read(0, { consumer: "c1", max: 1, timeoutMs: 0 });
        expect(ids(second)).toEqual(["m1"]);
        expect(second.endOfStream).toBe(false);
        // The batch that takes the last undelivered entry already says the stream ended.
        const last = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(ids(last)).toEqual(["m2"]);
        expect(last.endOfStream).toBe(true);
        // Pending entries may still exist once the stream has ended.
        expect((await buffer.usage(0)).pending).toBe(3);
        expect(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 5000 })).toEqual({ entries: [], endOfStream: true });
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true })).endOfStream).toBe(true);
      });

      it("does not end while one of two upstreams is still open", async () => {
        const buffer = await make({ upstreams: ["a", "b"] });
        await buffer.endOfStream("a");
        await buffer.endOfStream("a");
        expect(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 50 })).toEqual({ entries: [], endOfStream: false });
        await buffer.write(0, messages("m", 1));
        await buffer.endOfStream("b");
        expect(await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 })).toMatchObject({ endOfStream: true });
      });

      it("ends each partition when that partition is drained", async () => {
        const buffer = await make({ upstreams: ["up"] });
        await buffer.write(0, messages("m", 2));
        await buffer.endOfStream("up");
        expect((await buffer.read(1, { consumer: "c1", max: 10, timeoutMs: 0 })).endOfStream).toBe(true);
        expect((await buffer.read(0, { consumer: "c1", max: 1, timeoutMs: 0 })).endOfStream).toBe(false);
        expect((await buffer.read(0, { consumer: "c1", max: 1, timeoutMs: 0 })).endOfStream).toBe(true);
      });

      it("never ends a buffer without upstreams", async () => {
        const buffer = await make({ upstreams: [] });
        await buffer.write(0, messages("m", 1));
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 })).endOfStream).toBe(false);
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 30 })).endOfStream).toBe(false);
      });

      it("hasEnded tells whether a writer declared end of stream", async () => {
        const buffer = await make({ upstreams: ["a", "b"] });
        expect(await buffer.hasEnded("a")).toBe(false);
        await buffer.endOfStream("a");
        expect(await buffer.hasEnded("a")).toBe(true);
        expect(await buffer.hasEnded("b")).toBe(false);
      });

      it("rejects endOfStream from a writer that is not an upstream", async () => {
        const buffer = await make({ upstreams: ["a"] });
        await expectBufferError(buffer.endOfStream("stranger"), "BUFFER_UNKNOWN_WRITER");
      });

      it("rejects a write after every upstream has ended", async () => {
        const buffer = await make({ upstreams: ["a"] });
        await buffer.endOfStream("a");
        await expectBufferError(buffer.write(0, messages("m", 1)), "BUFFER_STREAM_ENDED");
      });
    });

    describe("abort and close", () => {
      it("resolves an in-flight read with no entries when its signal aborts", async () => {
        const buffer = await make();
        const controller = new AbortController();
        const pending = buffer.read(0, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST, signal: controller.signal });
        await sleep(30);
        controller.abort();
        expect((await pending).entries).toEqual([]);
        // The aborted reader took nothing: a later write goes to the next reader.
        await buffer.write(0, messages("a", 1));
        expect(ids(await buffer.read(0, { consumer: "c2", max: 10, timeoutMs: 0 }))).toEqual(["a0"]);
      });

      it("delivers nothing to a read whose signal is already aborted", async () => {
        const buffer = await make();
        await buffer.write(0, messages("a", 1));
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 1000, signal: AbortSignal.abort() });
        expect(batch.entries).toEqual([]);
        expect((await buffer.usage(0)).pending).toBe(0);
      });

      it("resolves waiting reads with no entries on close, and close is idempotent", async () => {
        const buffer = await make();
        const r0 = buffer.read(0, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST });
        const r1 = buffer.read(1, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST });
        await sleep(30);
        await buffer.close();
        await buffer.close();
        expect((await r0).entries).toEqual([]);
        expect((await r1).entries).toEqual([]);
      });

      it("rejects calls after close with BUFFER_CLOSED", async () => {
        const buffer = await make({ upstreams: ["a"] });
        await buffer.close();
        await expectBufferError(buffer.write(0, messages("a", 1)), "BUFFER_CLOSED");
        await expectBufferError(buffer.read(0, { consumer: "c1", max: 1, timeoutMs: 0 }), "BUFFER_CLOSED");
        await expectBufferError(buffer.ack(0, []), "BUFFER_CLOSED");
        await expectBufferError(buffer.usage(0), "BUFFER_CLOSED");
        await expectBufferError(buffer.claimIdle(0, "c1", 0, 1), "BUFFER_CLOSED");
        await expectBufferError(buffer.endOfStream("a"), "BUFFER_CLOSED");
      });
    });

    describe("watermark marks (issue #13)", () => {
      const writers = { watermarkWriters: ["up/0", "up/1"] };
      const read = (buffer: PartitionedBuffer, consumer = "c1", timeoutMs = 0): Promise<ReadBatch> =>
        buffer.read(0, { consumer, max: 100, timeoutMs });

      it("reports no watermark until every expected writer has marked, then the minimum over writers", async () => {
        const buffer = await make(writers);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 100 });
        expect((await read(buffer)).watermark).toBeUndefined();
        await buffer.writeWatermark(0, { writer: "up/1", processor: "w1", watermark: 70 });
        expect((await read(buffer)).watermark).toBe(70);
        await buffer.writeWatermark(0, { writer: "up/1", processor: "w1", watermark: 150 });
        expect((await read(buffer)).watermark).toBe(100);
        // Another partition has marks of its own.
        expect((await buffer.read(1, { consumer: "c1", max: 10, timeoutMs: 0 })).watermark).toBeUndefined();
      });

      it("counts a mark only once the data written before it is read, and never returns marks as entries", async () => {
        const buffer = await make({ watermarkWriters: ["up/0"] });
        await buffer.write(0, messages("a", 3));
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 10 });
        await buffer.write(0, messages("b", 1));
        const first = await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0 });
        expect(ids(first)).toEqual(["a0", "a1"]);
        expect(first.watermark).toBeUndefined();
        const second = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(ids(second)).toEqual(["a2", "b0"]);
        expect(second.watermark).toBe(10);
        await buffer.ack(0, [...offsets(first), ...offsets(second)]);
        const usage = await buffer.usage(0);
        expect([usage.length, usage.pending]).toEqual([0, 0]);
        expect((await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true })).entries).toEqual([]);
        if (buffer.pendingDeliveries !== undefined) expect(await buffer.pendingDeliveries(0, { max: 10 })).toEqual([]);
      });

      it("returns a marks-only batch at once with the new watermark, even to a waiting read", async () => {
        const buffer = await make({ watermarkWriters: ["up/0"] });
        const waiting = read(buffer, "c1", WAIT_PAST_THE_TEST);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 5 });
        expect(await waiting).toEqual({ entries: [], endOfStream: false, watermark: 5 });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 6 });
        expect(await read(buffer, "c1", WAIT_PAST_THE_TEST)).toEqual({ entries: [], endOfStream: false, watermark: 6 });
      });

      it("takes the minimum over a writer's processors, and never reports lower than before", async () => {
        const buffer = await make({ watermarkWriters: ["up/0"] });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 50 });
        expect((await read(buffer)).watermark).toBe(50);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w2", watermark: 30 });
        expect((await read(buffer)).watermark).toBe(50);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w2", watermark: 60 });
        expect((await read(buffer)).watermark).toBe(50);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 80 });
        expect((await read(buffer)).watermark).toBe(60);
      });

      it("stops holding a writer back by a processor whose last mark is older than processorTimeoutMs", async () => {
        // 1 s, not a few ms: the first read must come while "dead" is still fresh, and on a loaded
        // machine two writes and a read can take tens of ms (a 20 ms timeout failed there).
        const buffer = await make({ watermarkWriters: ["up/0"], processorTimeoutMs: 1_000 });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "dead", watermark: 10 });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "live", watermark: 40 });
        expect((await read(buffer)).watermark).toBe(10);
        // The live processor keeps marking; once "dead" has been silent past the timeout, it no longer counts.
        let n = 40;
        let watermark: number | undefined = 10;
        while (watermark !== n) {
          expect(watermark).toBe(10);
          await sleep(5);
          n += 1;
          await buffer.writeWatermark(0, { writer: "up/0", processor: "live", watermark: n });
          watermark = (await read(buffer)).watermark;
        }
      });

      it("reaches END_OF_TIME once every writer marked it", async () => {
        const buffer = await make(writers);
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: Number.MAX_SAFE_INTEGER });
        await buffer.writeWatermark(0, { writer: "up/1", processor: "w1", watermark: 7 });
        expect((await read(buffer)).watermark).toBe(7);
        await buffer.writeWatermark(0, { writer: "up/1", processor: "w1", watermark: Number.MAX_SAFE_INTEGER });
        expect((await read(buffer)).watermark).toBe(Number.MAX_SAFE_INTEGER);
      });

      it("writes a mark into a full partition (marks ignore capacity)", async () => {
        const buffer = await make({ watermarkWriters: ["up/0"], maxLength: 2 });
        expect(await buffer.write(0, messages("a", 2))).toEqual({ written: 2 });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 9 });
        const batch = await buffer.read(0, { consumer: "c1", max: 10, timeoutMs: 0 });
        expect(ids(batch)).toEqual(["a0", "a1"]);
        expect(batch.watermark).toBe(9);
        expect((await buffer.usage(0)).length).toBe(2);
      });

      it("keeps each consumer's view apart: a mark counts for the reader that met it", async () => {
        const buffer = await make({ watermarkWriters: ["up/0"] });
        await buffer.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 3 });
        expect((await read(buffer, "c1")).watermark).toBe(3);
        expect((await read(buffer, "c2")).watermark).toBeUndefined();
      });

      it("refuses a mark from a writer the buffer does not expect, and a buffer without watermarkWriters reports none", async () => {
        const buffer = await make(writers);
        await expectBufferError(buffer.writeWatermark(0, { writer: "other/0", processor: "w1", watermark: 1 }), "BUFFER_UNKNOWN_WRITER");
        await expectBufferError(buffer.writeWatermark(2, { writer: "up/0", processor: "w1", watermark: 1 }), "BUFFER_PARTITION_OUT_OF_RANGE");
        const plain = await make();
        await expectBufferError(plain.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 1 }), "BUFFER_UNKNOWN_WRITER");
        await plain.write(0, messages("a", 1));
        expect(await read(plain)).not.toHaveProperty("watermark");
      });
    });

    describe("argument errors", () => {
      it("rejects partitions out of range", async () => {
        const buffer = await make({ partitions: 2 });
        for (const partition of [-1, 2, 0.5]) {
          await expectBufferError(buffer.write(partition, messages("a", 1)), "BUFFER_PARTITION_OUT_OF_RANGE");
          await expectBufferError(buffer.read(partition, { consumer: "c1", max: 1, timeoutMs: 0 }), "BUFFER_PARTITION_OUT_OF_RANGE");
          await expectBufferError(buffer.ack(partition, []), "BUFFER_PARTITION_OUT_OF_RANGE");
          await expectBufferError(buffer.usage(partition), "BUFFER_PARTITION_OUT_OF_RANGE");
          await expectBufferError(buffer.claimIdle(partition, "c1", 0, 1), "BUFFER_PARTITION_OUT_OF_RANGE");
        }
      });

      it("rejects a read or claim with max < 1, a negative timeout or an empty consumer", async () => {
        const buffer = await make();
        await expectBufferError(buffer.read(0, { consumer: "c1", max: 0, timeoutMs: 0 }), "BUFFER_INVALID_ARGUMENT");
        await expectBufferError(buffer.read(0, { consumer: "c1", max: 1.5, timeoutMs: 0 }), "BUFFER_INVALID_ARGUMENT");
        await expectBufferError(buffer.read(0, { consumer: "c1", max: 1, timeoutMs: -1 }), "BUFFER_INVALID_ARGUMENT");
        await expectBufferError(buffer.read(0, { consumer: "", max: 1, timeoutMs: 0 }), "BUFFER_INVALID_ARGUMENT");
        await expectBufferError(buffer.claimIdle(0, "c1", 0, 0), "BUFFER_INVALID_ARGUMENT");
        await expectBufferError(buffer.claimIdle(0, "c1", -1, 1), "BUFFER_INVALID_ARGUMENT");
      });

      it("rejects an offset the buffer could not have produced", async () => {
        const buffer = await make();
        await expectBufferError(buffer.ack(0, ["not an offset"]), "BUFFER_INVALID_OFFSET");
      });
    });
  });
}

/** `count` messages with ids `${prefix}0 … ${prefix}${count - 1}`; the same arguments give equal messages. */
export function messages(prefix: string, count: number): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      id: `${prefix}${i}`,
      keys: [`k${i % 3}`],
      value: new TextEncoder().encode(`${prefix}${i}`),
      eventTime: 1_700_000_000_000 + i,
      headers: { n: String(i) },
    });
  }
  return out;
}

/** The message ids of a batch, in order. */
export function ids(batch: ReadBatch): string[] {
  return batch.entries.map((entry) => entry.message.id);
}

/** The offsets of a batch, in order. */
export function offsets(batch: ReadBatch): string[] {
  return batch.entries.map((entry) => entry.offset);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts that `promise` rejects with a `BufferError` of `code`. */
export async function expectBufferError(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, `expected a BufferError ${code}`).toBeInstanceOf(BufferError);
  expect((error as BufferError).code).toBe(code);
}

/**
 * Offsets are opaque strings, but increasing per partition: decimal (`"42"`) for the memory
 * buffer, `"<ms>-<seq>"` for Redis, `"<ms>-<seq>/<index>/<n>"` for a message of a framed Redis
 * entry. All compare as tuples of integers.
 */
function expectIncreasing(entries: readonly ReadEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const previous = (entries[i - 1] as ReadEntry).offset;
    const current = (entries[i] as ReadEntry).offset;
    expect(compareOffsets(previous, current), `${previous} < ${current}`).toBeLessThan(0);
  }
}

function compareOffsets(a: string, b: string): number {
  const pa = a.split(/[-/]/).map((part) => BigInt(part));
  const pb = b.split(/[-/]/).map((part) => BigInt(part));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0n;
    const y = pb[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
