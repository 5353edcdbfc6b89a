import type { Message, ReadBatchOutput } from "@weir/actors";
import { describe, expect, it } from "vitest";
import { messageFromJob } from "../src/connectors/bullmq/queued-message.js";
import { createGeneratorSource } from "../src/connectors/generator-source.js";
import type { SourceConnector } from "../src/connectors/source-connector.js";
import { withSourceWatermark } from "../src/time/source-watermark.js";
import { END_OF_TIME } from "../src/time/watermark.js";

const message = (eventTime: number): Message => ({ id: `m-${eventTime}`, keys: [], value: new Uint8Array(), eventTime, headers: {} });

/** A source that answers each read of a partition with the next scripted batch (then nothing). */
function scriptedSource(partitions: number, script: Record<number, Array<{ times: number[]; end?: boolean }>>): SourceConnector {
  return {
    partitions,
    async read(partition): Promise<ReadBatchOutput> {
      const next = script[partition]?.shift();
      if (next === undefined) return { entries: [], endOfStream: false };
      return { entries: next.times.map((t, i) => ({ offset: String(i), message: message(t) })), endOfStream: next.end ?? false };
    },
    ack: async () => undefined,
    close: async () => undefined,
  };
}

function fakeClocks(monotonic = 0, wall = 1_000_000) {
  const clock = { monotonic, wall };
  return { clock, options: { monotonic: () => clock.monotonic, wallNow: () => clock.wall } };
}

const signal = new AbortController().signal;
const read = (source: SourceConnector, partition = 0) => source.read(partition, { max: 100, timeoutMs: 10, signal }) as Promise<ReadBatchOutput & { watermark?: number }>;

describe("a source's watermark", () => {
  it("is the latest event time read so far minus maxDelay, per partition, and never goes back", async () => {
    const inner = scriptedSource(2, { 0: [{ times: [500, 900, 700] }, { times: [600] }, { times: [1_500] }], 1: [{ times: [100] }] });
    const source = withSourceWatermark(inner, { watermark: { maxDelay: 200 }, ...fakeClocks().options });
    expect((await read(source, 0)).watermark).toBe(700);
    expect((await read(source, 0)).watermark).toBe(700); // 600 is older than 900: no step back
    expect((await read(source, 0)).watermark).toBe(1_300);
    expect((await read(source, 1)).watermark).toBe(-100);
    expect(source.watermark(0)).toBe(1_300);
  });

  it("is absent until the partition has read data", async () => {
    const source = withSourceWatermark(scriptedSource(1, {}), { watermark: { maxDelay: 0 }, ...fakeClocks().options });
    const batch = await read(source);
    expect("watermark" in batch).toBe(false);
    expect(source.watermark(0)).toBeUndefined();
  });

  it("becomes END_OF_TIME once the partition's read reports end of stream", async () => {
    const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [5_000] }, { times: [6_000], end: true }] }), { watermark: { maxDelay: 0 }, ...fakeClocks().options });
    expect((await read(source)).watermark).toBe(5_000);
    expect((await read(source)).watermark).toBe(END_OF_TIME);
  });

  it("without idleSource stays put however long the partition reads nothing", async () => {
    const { clock, options } = fakeClocks();
    const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [10_000] }] }), { watermark: { maxDelay: 0 }, ...options });
    await read(source);
    clock.monotonic += 3_600_000;
    clock.wall += 3_600_000;
    expect((await read(source)).watermark).toBe(10_000);
  });

  describe("with idleSource", () => {
    const idle = { maxDelay: 100, idleSource: { threshold: 5_000, stepInterval: 1_000, incrementBy: 300 } };

    it("advances by incrementBy every stepInterval once threshold passed without data", async () => {
      const { clock, options } = fakeClocks(0, 1_000_000);
      const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [10_100] }] }), { watermark: idle, ...options });
      expect((await read(source)).watermark).toBe(10_000);
      clock.monotonic = 4_999;
      expect((await read(source)).watermark).toBe(10_000);
      clock.monotonic = 5_000;
      expect((await read(source)).watermark).toBe(10_300);
      clock.monotonic = 5_999;
      expect((await read(source)).watermark).toBe(10_300);
      clock.monotonic = 8_000; // three more steps were due: 6 000, 7 000 and 8 000
      expect((await read(source)).watermark).toBe(11_200);
    });

    it("never advances past wall-now − maxDelay", async () => {
      const { clock, options } = fakeClocks(0, 10_500);
      const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [10_100] }] }), { watermark: idle, ...options });
      await read(source);
      clock.monotonic = 10_000; // six steps due: 10 000 + 1 800, capped at 10 500 − 100
      expect((await read(source)).watermark).toBe(10_400);
      clock.wall = 10_300; // the wall clock stepped back: the watermark does not
      clock.monotonic = 20_000;
      expect((await read(source)).watermark).toBe(10_400);
    });

    it("measures idleness on the monotonic clock, not the wall clock", async () => {
      const { clock, options } = fakeClocks(0, 1_000_000);
      const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [10_100] }] }), { watermark: idle, ...options });
      await read(source);
      clock.wall += 3_600_000; // a wall-clock step forward is no idle time
      expect((await read(source)).watermark).toBe(10_000);
    });

    it("restarts the idle count when data comes again", async () => {
      const { clock, options } = fakeClocks(0, 1_000_000);
      const source = withSourceWatermark(scriptedSource(1, { 0: [{ times: [10_100] }, { times: [10_200] }] }), { watermark: idle, ...options });
      await read(source);
      clock.monotonic = 6_000;
      expect((await read(source)).watermark).toBe(10_100); // data at 6 000: idle counts from here
      clock.monotonic = 10_999;
      expect((await read(source)).watermark).toBe(10_100);
      clock.monotonic = 11_000;
      expect((await read(source)).watermark).toBe(10_400);
    });

    it("starts a partition that never had data at wall-now − maxDelay once threshold passed", async () => {
      const { clock, options } = fakeClocks(0, 50_000);
      const source = withSourceWatermark(scriptedSource(1, {}), { watermark: idle, ...options });
      expect((await read(source)).watermark).toBeUndefined();
      clock.monotonic = 5_000;
      expect((await read(source)).watermark).toBe(49_900);
    });
  });
});

describe("event times the sources set", () => {
  it("generator: jitter shifts event times back by less than jitter (out of order within it)", async () => {
    const source = createGeneratorSource("in", 1, { rpu: 1_000_000, duration: 1, msgSize: 8, keyCount: 0, total: 500, jitter: 50 });
    const before = Date.now();
    const batch = await source.read(0, { max: 500, timeoutMs: 10, signal });
    const after = Date.now();
    expect(batch.entries.length).toBeGreaterThan(0);
    for (const { message } of batch.entries) {
      expect(message.eventTime).toBeGreaterThan(before - 50);
      expect(message.eventTime).toBeLessThanOrEqual(after);
    }
  });

  it("generator: with jitter ≤ maxDelay no message is behind the watermark read before it", async () => {
    const generator = createGeneratorSource("in", 2, { rpu: 1_000_000, duration: 1, msgSize: 8, keyCount: 0, total: 4_000, jitter: 20 });
    const source = withSourceWatermark(generator, { watermark: { maxDelay: 20 } });
    const seen = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
    let late = 0;
    for (let ended = 0; ended < 2; ) {
      ended = 0;
      for (const partition of [0, 1]) {
        const batch = await read(source, partition);
        late += batch.entries.filter(({ message }) => message.eventTime < seen[partition]!).length;
        if (batch.watermark !== undefined) seen[partition] = batch.watermark;
        if (batch.endOfStream) ended += 1;
      }
    }
    expect(late).toBe(0);
    expect(seen).toEqual([END_OF_TIME, END_OF_TIME]);
  });

  it("bullmq: a job's eventTime field, else the job's creation timestamp", () => {
    const job = (data: unknown) => ({ id: "j1", data, timestamp: 1_650_000_000_000 });
    expect(messageFromJob(job({ value: "v", eventTime: 1_600_000_000_000 })).eventTime).toBe(1_600_000_000_000);
    expect(messageFromJob(job({ value: "v" })).eventTime).toBe(1_650_000_000_000);
    expect(messageFromJob(job({ value: "v", eventTime: "soon" })).eventTime).toBe(1_650_000_000_000);
    expect(messageFromJob(job({ order: 7 })).eventTime).toBe(1_650_000_000_000);
  });
});
