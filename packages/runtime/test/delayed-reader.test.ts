/**
 * The delayed-redelivery reader wrapper (flow/delayed-reader.ts): a memory store's due timer cuts a
 * waiting read short, and that costs nothing per read — one cut signal and one due subscription per
 * reader until one is used (issue 12: an AbortController, two listeners and a subscription per read
 * were ~3 % of a memory pipeline's CPU, on every vertex whether or not anything was ever parked).
 */
import { describe, expect, it } from "vitest";
import type { AckInput, Message, ReadBatchInput, ReadBatchOutput } from "@weir/actors";
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

  it("asks a store that is not durable for due messages only while it holds parked ones; a durable store on every read", async () => {
    for (const durable of [false, true]) {
      const { store } = fakeStore();
      let parked = 0;
      let releases = 0;
      const counted: DelayedStore = {
        ...store,
        durable,
        waiting: () => parked,
        release: async () => ((releases += 1), { entries: [], moved: 0, duplicates: 0 }),
      };
      const wrapped = withDelayedRelease(fakeIo().io, counted, emptyCounts());
      const reader = new AbortController();
      for (let i = 0; i < 5; i += 1) await wrapped.read(input, reader.signal);
      // A memory store holds only what this process parked: with nothing parked nothing can be due.
      expect(releases).toBe(durable ? 5 : 0);
      parked = 1;
      await wrapped.read(input, reader.signal);
      expect(releases).toBe(durable ? 6 : 1);
    }
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
    // As a memory store: the message counts as waiting until it is released.
    store.waiting = () => (due ? 1 : 0);
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

  describe("a parked message holds its partition's watermark until the epoch carrying it back is acked (I7)", () => {
    const parkedMessage: Message = { id: "m20", keys: [], value: new Uint8Array(), eventTime: 100, headers: {} };

    /** A memory-like store: one parked message, handed out — and no longer waiting — once `due` is set. */
    function oneParked() {
      const state = { parked: true, due: false };
      const store: DelayedStore = {
        durable: false,
        park: async () => undefined,
        parkedAlready: async (_partition, identities) => identities.map(() => false),
        // As the memory store: the message leaves `waiting` synchronously, before the caller's await resumes.
        release: (partition) => {
          if (!state.parked || !state.due || partition !== 0) return Promise.resolve({ entries: [], moved: 0, duplicates: 0 });
          state.parked = false;
          return Promise.resolve({ entries: [{ offset: `${RELEASED_OFFSET_PREFIX}1`, message: parkedMessage }], moved: 0, duplicates: 0 });
        },
        waiting: (partition) => (partition === 0 && state.parked ? 1 : 0),
        waitForDue: async () => undefined,
        onDue: () => () => undefined,
        close: async () => undefined,
      };
      return { store, state };
    }

    /** The inner I/O: reads hand out `next`, acks record what would be published (the watermark reaching vertex-io's ack). */
    function publishingIo() {
      const published: Array<{ readonly epoch: number; readonly offsets: readonly string[]; readonly watermark: number | undefined }> = [];
      const io = {
        read: async (): Promise<ReadBatchOutput> => ({ entries: [{ offset: "b", message: { ...parkedMessage, id: "m30", eventTime: 150 } }], endOfStream: false }),
        ack: async (ack: AckInput) => void published.push({ epoch: ack.epoch, offsets: [...ack.offsets], watermark: ack.watermark }),
      } as unknown as VertexIO;
      return { io, published };
    }

    const ackOf = (epoch: number, offsets: readonly string[], watermark: number): AckInput => ({ vertex: "v", partition: 0, epoch, offsets, watermark });

    it("an epoch sealed before the release and acked after it publishes nothing: its watermark would pass the message on its way back", async () => {
      const { store, state } = oneParked();
      const { io, published } = publishingIo();
      const wrapped = withDelayedRelease(io, store, emptyCounts());
      const reader = new AbortController();
      // Epoch 1 parked m20 (event time 100) in its write; epoch 2 (m30, watermark 145) was read meanwhile.
      expect((await wrapped.read(input, reader.signal)).entries.map((entry) => entry.offset)).toEqual(["b"]);
      await wrapped.ack(ackOf(1, ["a"], 95));
      // m20 comes due and is read back into epoch 3, while epoch 2 is still being written.
      state.due = true;
      expect((await wrapped.read(input, reader.signal)).entries.map((entry) => entry.offset)).toEqual([`${RELEASED_OFFSET_PREFIX}1`]);
      // Nothing is parked any more: a hold that only asks the store (waiting > 0) lets 145 through here.
      expect(store.waiting(0)).toBe(0);
      await wrapped.ack(ackOf(2, ["b"], 145));
      // Epoch 3 wrote m20 downstream: its ack publishes, also when every offset it acks was released.
      await wrapped.ack(ackOf(3, [`${RELEASED_OFFSET_PREFIX}1`], 145));
      await wrapped.ack(ackOf(3, [`${RELEASED_OFFSET_PREFIX}1`], 145)); // a retried ack changes nothing
      await wrapped.ack(ackOf(4, ["c"], 195));
      expect(published).toEqual([
        { epoch: 1, offsets: ["a"], watermark: undefined },
        { epoch: 2, offsets: ["b"], watermark: undefined },
        { epoch: 3, offsets: [], watermark: 145 },
        { epoch: 3, offsets: [], watermark: 145 },
        { epoch: 4, offsets: ["c"], watermark: 195 },
      ]);
    });

    it("an ack running while the release is under way (the store let go, the read has not resumed) publishes nothing", async () => {
      const { store, state } = oneParked();
      const { io, published } = publishingIo();
      const wrapped = withDelayedRelease(io, store, emptyCounts());
      state.due = true;
      const read = wrapped.read(input, new AbortController().signal);
      expect(store.waiting(0)).toBe(0);
      await wrapped.ack(ackOf(2, ["b"], 145));
      await read;
      expect(published).toEqual([{ epoch: 2, offsets: ["b"], watermark: undefined }]);
    });
  });
});
