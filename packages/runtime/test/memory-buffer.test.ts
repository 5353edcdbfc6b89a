import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBuffer, bufferCapacity } from "../src/buffer/index.js";
import type { BufferClock, BufferOptions } from "../src/buffer/index.js";
import { describeBufferConformance, expectBufferError, ids, messages, offsets } from "./buffer-conformance.js";
import { listenedController } from "./support/signal-listeners.js";

describeBufferConformance("MemoryBuffer", async (options) => new MemoryBuffer(options));

/** Longer than any test waits: a read that returns was served, not timed out. */
const WAIT_PAST_THE_TEST = 60_000;

const base: BufferOptions = { name: "p.v", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [] };

/** A clock that only moves when told, so idle times are exact. */
function manualClock(): BufferClock & { advance(ms: number): void } {
  let now = 0;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

describe("MemoryBuffer", () => {
  it("rejects impossible options with BUFFER_INVALID_OPTIONS", () => {
    const bad: Array<Partial<BufferOptions>> = [
      { name: "" },
      { partitions: 0 },
      { partitions: 1.5 },
      { maxLength: 0 },
      { usageLimit: 0 },
      { usageLimit: 1.1 },
      { usageLimit: Number.NaN },
      { maxLength: 1, usageLimit: 0.5 },
      { upstreams: [""] },
    ];
    for (const overrides of bad) {
      expect(() => new MemoryBuffer({ ...base, ...overrides }), JSON.stringify(overrides)).toThrow(
        expect.objectContaining({ code: "BUFFER_INVALID_OPTIONS" }),
      );
    }
  });

  it("numbers offsets 1, 2, 3 … per partition", async () => {
    const buffer = new MemoryBuffer({ ...base, partitions: 2 });
    await buffer.write(0, messages("a", 3));
    await buffer.write(1, messages("b", 1));
    expect(offsets(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["1", "2", "3"]);
    expect(offsets(await buffer.read(1, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["1"]);
  });

  it("computes capacity without binary rounding surprises", () => {
    expect(100 * 0.29).toBeLessThan(29);
    expect(bufferCapacity(100, 0.29)).toBe(29);
    expect(bufferCapacity(30_000, 0.8)).toBe(24_000);
    expect(bufferCapacity(10, 0.75)).toBe(7);
  });

  it("counts an ack of an entry that was never delivered as 0, as XACK does", async () => {
    const buffer = new MemoryBuffer(base);
    await buffer.write(0, messages("a", 2));
    expect(await buffer.ack(0, ["1", "2", "99", "0"])).toBe(0);
    expect((await buffer.usage(0)).length).toBe(2);
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
  });

  it("rejects a batch with a malformed offset without acking any of it", async () => {
    const buffer = new MemoryBuffer(base);
    await buffer.write(0, messages("a", 2));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    for (const bad of ["01", "-1", "1.0", "", "1e3", "9999999999999999"]) {
      await expectBufferError(buffer.ack(0, [...offsets(batch), bad]), "BUFFER_INVALID_OFFSET");
    }
    expect(await buffer.usage(0)).toMatchObject({ length: 2, pending: 2 });
    await expectBufferError(
      buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true, after: "x" }),
      "BUFFER_INVALID_OFFSET",
    );
  });

  it("claims by the injected clock: idle exactly minIdleMs qualifies", async () => {
    const clock = manualClock();
    const buffer = new MemoryBuffer(base, clock);
    await buffer.write(0, messages("a", 2));
    await buffer.read(0, { consumer: "dead", max: 1, timeoutMs: 0 });
    clock.advance(500);
    await buffer.read(0, { consumer: "dead", max: 1, timeoutMs: 0 });
    clock.advance(499);
    expect((await buffer.claimIdle(0, "alive", 1000, 10)).map((e) => e.message.id)).toEqual([]);
    clock.advance(1);
    expect((await buffer.claimIdle(0, "alive", 1000, 10)).map((e) => e.message.id)).toEqual(["a0"]);
    clock.advance(500);
    expect((await buffer.claimIdle(0, "alive", 1000, 10)).map((e) => e.message.id)).toEqual(["a1"]);
  });

  it("waits without a timer for an infinite timeout, until data comes", async () => {
    const buffer = new MemoryBuffer(base);
    const pending = buffer.read(0, { consumer: "c", max: 10, timeoutMs: Number.POSITIVE_INFINITY });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await buffer.write(0, messages("a", 1));
    expect(ids(await pending)).toEqual(["a0"]);
  });

  // Issue 12, session 10: an abort listener added and removed on the reader's long-lived signal for
  // every waiting read kept the batches of those reads alive through scavenges (most messages of a
  // pipeline with a map vertex were promoted to the old generation). The buffer listens once per signal.
  it("listens to a reader's signal once, however many of its reads wait, and an abort still ends every wait", async () => {
    const buffer = new MemoryBuffer({ ...base, partitions: 2 });
    const { controller, added } = listenedController();
    const wait = (partition: number) => buffer.read(partition, { consumer: "c1", max: 10, timeoutMs: WAIT_PAST_THE_TEST, signal: controller.signal });
    for (let i = 0; i < 5; i += 1) {
      const waiting = wait(0);
      await buffer.write(0, messages(`m${i}-`, 1));
      expect(ids(await waiting)).toEqual([`m${i}-0`]);
    }
    expect(added).toEqual(["abort"]);
    const waits = [wait(0), wait(1)];
    controller.abort();
    for (const waiting of waits) expect((await waiting).entries).toEqual([]);
    expect(added).toEqual(["abort"]);
  });

  it("keeps offsets, pending lists and paging right across compaction of acked entries", async () => {
    const buffer = new MemoryBuffer({ ...base, maxLength: 10_000 });
    await buffer.write(0, messages("a", 3000));
    const batch = await buffer.read(0, { consumer: "c1", max: 3000, timeoutMs: 0 });
    const all = offsets(batch);
    // Leave a0 pending and ack everything up to a2499, so the acked run behind the head is large.
    expect(await buffer.ack(0, all.slice(1, 2500))).toBe(2499);
    // Entry a0 still blocks the head; acking it lets the prefix be compacted.
    expect(await buffer.ack(0, [all[0] as string])).toBe(1);
    expect(await buffer.usage(0)).toMatchObject({ length: 500, pending: 500 });
    await buffer.write(0, messages("b", 2));
    const fresh = await buffer.read(0, { consumer: "c2", max: 10, timeoutMs: 0 });
    expect(offsets(fresh)).toEqual(["3001", "3002"]);
    // An `after` that points into the compacted region still pages from the oldest pending entry.
    const page = await buffer.read(0, { consumer: "c1", max: 2, timeoutMs: 0, fromPending: true, after: "5" });
    expect(ids(page)).toEqual(["a2500", "a2501"]);
    expect(await buffer.ack(0, all.slice(0, 2500))).toBe(0);
    expect(await buffer.ack(0, [...all.slice(2500), ...offsets(fresh)])).toBe(502);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });

  it("matches a simple model over random operations", async () => {
    type Op =
      | { kind: "write"; p: number; n: number }
      | { kind: "read"; p: number; c: number; max: number }
      | { kind: "pending"; p: number; c: number; max: number }
      | { kind: "ack"; p: number; pick: number[] }
      | { kind: "ackAll"; p: number }
      | { kind: "claim"; p: number; c: number; max: number };
    const p = fc.integer({ min: 0, max: 1 });
    const c = fc.integer({ min: 0, max: 2 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("write" as const), p, n: fc.integer({ min: 0, max: 800 }) }),
      fc.record({ kind: fc.constant("read" as const), p, c, max: fc.integer({ min: 1, max: 800 }) }),
      fc.record({ kind: fc.constant("pending" as const), p, c, max: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ kind: fc.constant("ack" as const), p, pick: fc.array(fc.nat(), { maxLength: 300 }) }),
      fc.record({ kind: fc.constant("claim" as const), p, c, max: fc.integer({ min: 1, max: 300 }) }),
      // Acking everything pending lets long acked prefixes build up, which exercises compaction.
      fc.record({ kind: fc.constant("ackAll" as const), p }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 120 }), async (ops) => {
        const maxLength = 2000;
        const buffer = new MemoryBuffer({ ...base, partitions: 2, maxLength }, manualClock());
        // Model: every entry ever written, with its state; `owner` is the consumer it is pending for.
        type Entry = { offset: string; id: string; state: "new" | "pending" | "acked"; owner: number };
        const model: Entry[][] = [[], []];
        let written = 0;
        for (const o of ops) {
          const log = model[o.p] as Entry[];
          if (o.kind === "write") {
            const length = log.filter((e) => e.state !== "acked").length;
            const expected = Math.min(o.n, maxLength - length);
            const batch = messages(`w${written++}-`, o.n);
            expect(await buffer.write(o.p, batch)).toEqual({ written: expected });
            for (const m of batch.slice(0, expected)) {
              log.push({ offset: String(log.length + 1), id: m.id, state: "new", owner: -1 });
            }
          } else if (o.kind === "read") {
            const taken = log.filter((e) => e.state === "new").slice(0, o.max);
            for (const e of taken) Object.assign(e, { state: "pending", owner: o.c });
            const got = await buffer.read(o.p, { consumer: `c${o.c}`, max: o.max, timeoutMs: 0 });
            expect(offsets(got)).toEqual(taken.map((e) => e.offset));
            expect(ids(got)).toEqual(taken.map((e) => e.id));
          } else if (o.kind === "pending") {
            const mine = log.filter((e) => e.state === "pending" && e.owner === o.c).slice(0, o.max);
            const got = await buffer.read(o.p, { consumer: `c${o.c}`, max: o.max, timeoutMs: 0, fromPending: true });
            expect(offsets(got)).toEqual(mine.map((e) => e.offset));
          } else if (o.kind === "ack") {
            const chosen = log.length === 0 ? [] : o.pick.map((i) => log[i % log.length] as Entry);
            let expected = 0;
            for (const e of chosen) {
              if (e.state === "pending") {
                e.state = "acked";
                expected++;
              }
            }
            expect(await buffer.ack(o.p, chosen.map((e) => e.offset))).toBe(expected);
          } else if (o.kind === "ackAll") {
            const pending = log.filter((e) => e.state === "pending");
            for (const e of pending) e.state = "acked";
            expect(await buffer.ack(o.p, pending.map((e) => e.offset))).toBe(pending.length);
          } else {
            const others = log.filter((e) => e.state === "pending" && e.owner !== o.c).slice(0, o.max);
            for (const e of others) e.owner = o.c;
            const got = await buffer.claimIdle(o.p, `c${o.c}`, 0, o.max);
            expect(got.map((e) => e.offset)).toEqual(others.map((e) => e.offset));
          }
          const live = log.filter((e) => e.state !== "acked").length;
          const pending = log.filter((e) => e.state === "pending").length;
          expect(await buffer.usage(o.p)).toMatchObject({ length: live, pending });
        }
        await buffer.close();
      }),
      { numRuns: 150 },
    );
  });

  it("moves a million messages through write, read and ack in batches", async () => {
    const buffer = new MemoryBuffer({ ...base, maxLength: 30_000, usageLimit: 0.8 });
    const batchSize = 500;
    const batch = messages("m", batchSize);
    const total = 1_000_000;
    let writtenTotal = 0;
    let readTotal = 0;
    while (readTotal < total) {
      if (writtenTotal < total) writtenTotal += (await buffer.write(0, batch)).written;
      const read = await buffer.read(0, { consumer: "c", max: batchSize, timeoutMs: 0 });
      readTotal += read.entries.length;
      await buffer.ack(0, offsets(read));
    }
    // Its rate is bench/'s business (no duration is asserted here): this checks nothing is left behind.
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
    expect(readTotal).toBe(total);
  });
});

describe("MemoryBuffer watermark liveness (issue #13)", () => {
  const read = (buffer: MemoryBuffer) => buffer.read(0, { consumer: "c", max: 100, timeoutMs: 0 });
  const mark = (buffer: MemoryBuffer, processor: string, watermark: number, writer = "up/0") =>
    buffer.writeWatermark(0, { writer, processor, watermark });

  it("measures a processor's silence between marks, so a reader that stalled takes no processor for dead", async () => {
    const clock = manualClock();
    const buffer = new MemoryBuffer({ ...base, watermarkWriters: ["up/0"], processorTimeoutMs: 100 }, clock);
    await mark(buffer, "slow", 10);
    await mark(buffer, "fast", 40);
    expect((await read(buffer)).watermark).toBe(10);
    // Both keep marking while the reader does not read for far longer than the timeout.
    clock.advance(1_000);
    await mark(buffer, "fast", 41);
    await mark(buffer, "slow", 11);
    expect((await read(buffer)).watermark).toBe(11);
  });

  it("drops a silent processor, but a writer whose processors are all silent keeps its newest one's mark", async () => {
    const clock = manualClock();
    const buffer = new MemoryBuffer({ ...base, watermarkWriters: ["up/0", "up/1"], processorTimeoutMs: 100 }, clock);
    await mark(buffer, "old", 10, "up/0");
    clock.advance(50);
    await mark(buffer, "new", 30, "up/0");
    await mark(buffer, "w", 90, "up/1");
    expect((await read(buffer)).watermark).toBe(10);
    clock.advance(60); // "old" is 110 ms older than the newest mark: dead
    await mark(buffer, "w", 95, "up/1");
    expect((await read(buffer)).watermark).toBe(30);
    clock.advance(500); // now every processor of up/0 is silent: its newest ("new") still holds it
    await mark(buffer, "w", 99, "up/1");
    expect((await read(buffer)).watermark).toBe(30);
  });

  it("keeps offsets, entries and watermarks exact while slots are reused behind an entry left pending and marks", async () => {
    const buffer = new MemoryBuffer({ ...base, watermarkWriters: ["up/0"] });
    let held: string | undefined;
    for (let round = 0; round < 2_000; round++) {
      await buffer.write(0, messages(`r${round}-`, 3));
      await mark(buffer, "w", round);
      const batch = await read(buffer);
      expect(ids(batch)).toEqual([`r${round}-0`, `r${round}-1`, `r${round}-2`]);
      // Each round takes four sequence numbers: three entries and the mark.
      expect(offsets(batch)).toEqual([1, 2, 3].map((k) => String(round * 4 + k)));
      expect(batch.watermark).toBe(round);
      // The last entry of each round stays pending for a round, so the live slots never start empty.
      expect(await buffer.ack(0, [...offsets(batch).slice(0, 2), ...(held === undefined ? [] : [held])])).toBe(held === undefined ? 2 : 3);
      held = offsets(batch)[2];
      expect(await buffer.usage(0)).toMatchObject({ length: 1, pending: 1 });
    }
    const pending = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true });
    expect(ids(pending)).toEqual(["r1999-2"]);
  });

  it("keeps offsets and acks exact after thousands of consumed marks (compacted away)", async () => {
    const buffer = new MemoryBuffer({ ...base, watermarkWriters: ["up/0"] });
    for (let i = 0; i < 3_000; i++) {
      await mark(buffer, "w", i);
      expect((await read(buffer)).watermark).toBe(i);
    }
    await buffer.write(0, messages("a", 1));
    const batch = await read(buffer);
    expect(ids(batch)).toEqual(["a0"]);
    expect(offsets(batch)).toEqual(["3001"]);
    expect(await buffer.ack(0, offsets(batch))).toBe(1);
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
  });
});
