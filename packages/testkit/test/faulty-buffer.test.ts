import { BufferError, MemoryBuffer } from "@weir/runtime";
import type { BufferOptions } from "@weir/runtime";
import { describe, expect, it } from "vitest";
import {
  describeBufferConformance,
  expectBufferError,
  ids,
  messages,
  offsets,
  sleep,
} from "../../runtime/test/buffer-conformance.js";
import { FaultyBuffer } from "../src/index.js";

// With nothing armed the wrapper must be invisible: it keeps the whole buffer contract.
describeBufferConformance("FaultyBuffer(MemoryBuffer), no faults armed", async (options) => new FaultyBuffer(new MemoryBuffer(options)));

const options: BufferOptions = { name: "p.v", partitions: 2, maxLength: 100, usageLimit: 1, upstreams: [] };

function faulty(): FaultyBuffer {
  return new FaultyBuffer(new MemoryBuffer(options));
}

describe("FaultyBuffer", () => {
  it("fails the next n writes with a retriable BUFFER_UNAVAILABLE and writes nothing", async () => {
    const buffer = faulty();
    buffer.failNextWrites(2);
    for (let i = 0; i < 2; i++) {
      const error = await buffer.write(0, messages("a", 3)).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(BufferError);
      expect(error).toMatchObject({ code: "BUFFER_UNAVAILABLE", retriable: true });
    }
    expect((await buffer.usage(0)).length).toBe(0);
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3 });
    expect(buffer.injectedFaults).toEqual({ writes: 2, reads: 0, acks: 0, fullWrites: 0 });
  });

  it("raises the error it is given", async () => {
    const buffer = faulty();
    const boom = new Error("boom");
    buffer.failNextWrites(1, boom);
    await expect(buffer.write(0, messages("a", 1))).rejects.toBe(boom);
  });

  it("applies a write and then fails it with afterApply, as a lost reply does", async () => {
    const buffer = faulty();
    buffer.failNextWrites(1, undefined, { afterApply: true });
    await expectBufferError(buffer.write(0, messages("a", 2)), "BUFFER_UNAVAILABLE");
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
  });

  it("fails the next n acks and leaves the entries pending", async () => {
    const buffer = faulty();
    await buffer.write(0, messages("a", 2));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    buffer.failNextAcks(1);
    await expectBufferError(buffer.ack(0, offsets(batch)), "BUFFER_UNAVAILABLE");
    expect(await buffer.usage(0)).toMatchObject({ length: 2, pending: 2 });
    expect(await buffer.ack(0, offsets(batch))).toBe(2);
    expect(buffer.injectedFaults.acks).toBe(1);
  });

  it("applies an ack and then fails it with afterApply", async () => {
    const buffer = faulty();
    await buffer.write(0, messages("a", 2));
    const batch = await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    buffer.failNextAcks(1, undefined, { afterApply: true });
    await expectBufferError(buffer.ack(0, offsets(batch)), "BUFFER_UNAVAILABLE");
    expect(await buffer.usage(0)).toMatchObject({ length: 0, pending: 0 });
    // The retry the reader makes counts 0: nothing is acked twice.
    expect(await buffer.ack(0, offsets(batch))).toBe(0);
  });

  it("fails the next n reads without delivering anything", async () => {
    const buffer = faulty();
    await buffer.write(0, messages("a", 2));
    buffer.failNextReads(2);
    await expectBufferError(buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }), "BUFFER_UNAVAILABLE");
    await expectBufferError(buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0, fromPending: true }), "BUFFER_UNAVAILABLE");
    expect((await buffer.usage(0)).pending).toBe(0);
    expect(ids(await buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 }))).toEqual(["a0", "a1"]);
    expect(buffer.injectedFaults.reads).toBe(2);
  });

  it("disarms a fault with n = 0 and rejects a negative n", async () => {
    const buffer = faulty();
    buffer.failNextWrites(5);
    buffer.failNextWrites(0);
    expect(await buffer.write(0, messages("a", 1))).toEqual({ written: 1 });
    expect(() => buffer.failNextReads(-1)).toThrow(BufferError);
  });

  it("forces the buffer full: writes write 0 and usage says full, until turned off", async () => {
    const buffer = faulty();
    buffer.forceFull(true);
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 0 });
    expect(await buffer.usage(0)).toMatchObject({ length: 0, isFull: true });
    await expectBufferError(buffer.write(5, messages("a", 1)), "BUFFER_PARTITION_OUT_OF_RANGE");
    buffer.forceFull(false);
    expect(await buffer.usage(0)).toMatchObject({ isFull: false });
    expect(await buffer.write(0, messages("a", 3))).toEqual({ written: 3 });
    expect(buffer.injectedFaults.fullWrites).toBe(1);
  });

  it("adds latency per kind of call, and setLatency replaces all kinds", async () => {
    const buffer = faulty();
    buffer.setLatency({ write: 60, ack: 60 });
    let started = Date.now();
    await buffer.write(0, messages("a", 1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    // No read latency: the read settles before a timer of the configured latency could fire.
    const read = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    expect(await settlesBeforeTimer(read, 60)).toBe(true);
    const batch = await read;
    started = Date.now();
    await buffer.ack(0, offsets(batch));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    buffer.setLatency({ read: 10 });
    expect(await settlesBeforeTimer(buffer.write(0, messages("b", 1)), 60)).toBe(true);
    expect(() => buffer.setLatency({ read: -1 })).toThrow(BufferError);
  });

  it("ends a delayed read early when its signal aborts or the buffer closes", async () => {
    const buffer = faulty();
    await buffer.write(0, messages("a", 1));
    // Longer than the test's timeout: only the abort and the close can end these reads.
    buffer.setLatency({ read: 600_000 });
    const controller = new AbortController();
    const aborted = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0, signal: controller.signal });
    const closing = buffer.read(0, { consumer: "c", max: 10, timeoutMs: 0 });
    await sleep(20);
    controller.abort();
    expect((await aborted).entries).toEqual([]);
    await buffer.close();
    expect((await closing).entries).toEqual([]);
  });
});

/**
 * Whether `call` settles before a timer of `ms` started at the same moment fires. Relative, not a
 * wall-clock bound: a call without injected latency settles in the microtask queue, which always runs
 * before any timer, however busy the machine.
 */
async function settlesBeforeTimer(call: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const fired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = call.then(() => true as const);
  try {
    return await Promise.race([settled, fired]);
  } finally {
    clearTimeout(timer);
  }
}
