/**
 * The delayed-redelivery reader wrapper (flow/delayed-reader.ts): a memory store's due timer cuts a
 * waiting read short, and that costs nothing per read — one cut signal and one due subscription per
 * reader until one is used (issue 12: an AbortController, two listeners and a subscription per read
 * were ~3 % of a memory pipeline's CPU, on every vertex whether or not anything was ever parked).
 */
import { describe, expect, it } from "vitest";
import type { ReadBatchInput, ReadBatchOutput } from "@weir/actors";
import { withDelayedRelease } from "../src/flow/delayed-reader.js";
import { RELEASED_OFFSET_PREFIX, type DelayedStore } from "../src/flow/delayed-store.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";
import type { VertexIO } from "../src/pipeline/vertex-machine.js";

function fakeStore() {
  const listeners = new Set<() => void>();
  let subscriptions = 0;
  const store: DelayedStore = {
    durable: false,
    park: async () => undefined,
    parkedAlready: async (_partition, identities) => identities.map(() => false),
    release: async () => ({ entries: [], moved: 0, duplicates: 0 }),
    waiting: () => 0,
    waitForDue: async () => undefined,
    onDue: (_partition, listener) => {
      subscriptions += 1;
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => undefined,
  };
  return { store, due: () => [...listeners].forEach((listener) => listener()), subscriptions: () => subscriptions, listening: () => listeners.size };
}

/** A buffer whose reads answer at once, or — while `hold` is set — wait until their signal aborts. */
function fakeIo() {
  const state = { hold: false, waiting: 0 };
  const io = {
    read: (_input: ReadBatchInput, signal: AbortSignal): Promise<ReadBatchOutput> => {
      if (!state.hold) return Promise.resolve({ entries: [], endOfStream: false });
      state.waiting += 1;
      return new Promise((resolve) => signal.addEventListener("abort", () => resolve({ entries: [], endOfStream: false }), { once: true }));
    },
    ack: async () => undefined,
  } as unknown as VertexIO;
  return { io, state };
}

const input: ReadBatchInput = { vertex: "v", partition: 0, max: 10, timeoutMs: 1000, fromPending: false };

describe("delayed redelivery's reader", () => {
  it("subscribes to due messages once per reader, not once per read", async () => {
    const { store, subscriptions } = fakeStore();
    const { io } = fakeIo();
    const reader = new AbortController();
    const wrapped = withDelayedRelease(io, store, emptyCounts());
    for (let i = 0; i < 20; i += 1) await wrapped.read(input, reader.signal);
    expect(subscriptions()).toBe(1);
  });

  it("a message coming due cuts a waiting read short, every time", async () => {
    const { store, due, listening } = fakeStore();
    const { io, state } = fakeIo();
    const reader = new AbortController();
    const wrapped = withDelayedRelease(io, store, emptyCounts());
    await wrapped.read(input, reader.signal);
    state.hold = true;
    for (let round = 1; round <= 3; round += 1) {
      const read = wrapped.read(input, reader.signal);
      await expect.poll(() => state.waiting).toBe(round);
      due();
      await expect(read).resolves.toEqual({ entries: [], endOfStream: false });
    }
    // The reader stopping aborts a waiting read too, and leaves no subscription behind.
    const last = wrapped.read(input, reader.signal);
    await expect.poll(() => state.waiting).toBe(4);
    reader.abort();
    await expect(last).resolves.toEqual({ entries: [], endOfStream: false });
    expect(listening()).toBe(0);
  });

  it("acks released offsets itself and the rest in the buffer, also when an ack is retried", async () => {
    const { store } = fakeStore();
    const released = [{ offset: `${RELEASED_OFFSET_PREFIX}0-1`, message: { id: "parked", keys: [], value: new Uint8Array(), eventTime: 0, headers: {} } }];
    let due = true;
    store.release = async () => (due ? ((due = false), { entries: released, moved: 0, duplicates: 0 }) : { entries: [], moved: 0, duplicates: 0 });
    const acked: string[][] = [];
    const io = { read: async () => ({ entries: [], endOfStream: false }), ack: async (ack: { offsets: readonly string[] }) => void acked.push([...ack.offsets]) } as unknown as VertexIO;
    const counts = emptyCounts();
    const wrapped = withDelayedRelease(io, store, counts);
    const reader = new AbortController();
    expect((await wrapped.read(input, reader.signal)).entries).toEqual(released);
    const ack = { vertex: "v", partition: 0, epoch: 1, offsets: [`${RELEASED_OFFSET_PREFIX}0-1`, "7"] };
    await wrapped.ack(ack);
    await wrapped.ack(ack);
    // Another partition never handed out a released entry: its offsets go to the buffer as they are.
    await wrapped.ack({ ...ack, partition: 1, offsets: ["8"] });
    expect(acked).toEqual([["7"], ["7"], ["8"]]);
    expect(counts.acked).toBe(2);
  });
});
