import { describe, expect, it } from "vitest";
import type { ReadEntry } from "@weir/actors";
import type { PartitionedBuffer, PendingDeliveriesQuery, PendingDelivery, WatermarkMark } from "../src/buffer/index.js";
import { MemoryBuffer } from "../src/buffer/index.js";
import { silentLogger, type Logger } from "../src/observability/logger.js";
import { createPendingCap, suspectInputOf } from "../src/pipeline/pending-cap.js";
import { vertexWatermarks } from "../src/pipeline/vertex-watermarks.js";
import { parseSpec } from "../src/spec/load-spec.js";
import { reduceSpec, timed, waitUntil } from "./support/event-time-run.js";

// Issue #13, the dead processor (test/watermark-stalls.redis.test.ts): a living worker's marks
// for "<vertex>/<p>" are capped by the event times of input partition p's entries that another
// consumer holds, idle ≥ claimIdle/2, until they are acknowledged.

/**
 * A durable input partition 0 as the cap sees it: `pending` is what XPENDING lists (each entry's
 * holder and idle time), `stream` what is still unacknowledged (offset → event time).
 */
function fakeInput() {
  const pending: PendingDelivery[] = [];
  const stream = new Map<string, number>();
  const queries: PendingDeliveriesQuery[] = [];
  const fetched: string[][] = [];
  let failure: Error | undefined;
  const input = {
    name: "p.cat",
    partitions: 1,
    async pendingDeliveries(_partition: number, query: PendingDeliveriesQuery): Promise<readonly PendingDelivery[]> {
      queries.push(query);
      if (failure !== undefined) throw failure;
      return pending.filter((entry) => query.minIdleMs === undefined || entry.idleMs >= query.minIdleMs).slice(0, query.max);
    },
    async entriesAt(_partition: number, offsets: readonly string[]): Promise<readonly ReadEntry[]> {
      fetched.push([...offsets]);
      return offsets.filter((offset) => stream.has(offset)).map((offset) => ({ offset, message: timed(`m${offset}`, [], stream.get(offset)!) }));
    },
  };
  /** Entry `offset` at `eventTime`, pending for `consumer`, idle `idleMs`. */
  const hold = (offset: string, eventTime: number, consumer: string, idleMs: number) => {
    stream.set(offset, eventTime);
    pending.push({ offset, consumer, idleMs, deliveries: 1 });
  };
  /** `consumer` claims `offset`: its idle time starts again. */
  const claim = (offset: string, consumer: string) => {
    const at = pending.findIndex((entry) => entry.offset === offset);
    pending[at] = { offset, consumer, idleMs: 0, deliveries: 2 };
  };
  const ack = (offset: string) => {
    stream.delete(offset);
    pending.splice(pending.findIndex((entry) => entry.offset === offset), 1);
  };
  return { input, hold, claim, ack, queries, fetched, fail: (error: Error | undefined) => void (failure = error) };
}

function recordingLogger() {
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (message: string) => void warnings.push(message), child: () => logger };
  return { logger, warnings };
}

describe("the pending-entries cap of a worker's watermark", () => {
  it("is the earliest event time of other consumers' entries idle ≥ claimIdle/2; own entries and younger ones do not cap, and cost no XRANGE", async () => {
    const fake = fakeInput();
    const caps = createPendingCap({ input: fake.input, consumer: "m2", claimIdleMs: 1_000, logger: silentLogger });
    fake.hold("1-0", 4_000, "m2", 900); // own: in flight here, on time against this worker's watermark
    fake.hold("2-0", 4_100, "m1", 400); // m1's, but m1 may well be alive
    expect(await caps.refresh(0)).toBe(false);
    expect(caps.cap(0)).toBeUndefined();
    expect(fake.queries).toEqual([{ max: 1_000, minIdleMs: 500 }]);
    expect(fake.fetched).toEqual([]);

    fake.hold("3-0", 4_300, "m1", 600);
    fake.hold("4-0", 4_200, "m1", 700);
    expect(await caps.refresh(0)).toBe(true);
    expect(caps.cap(0)).toBe(4_200);
    expect(await caps.refresh(0)).toBe(false);
  });

  it("stays after the entries are claimed by this worker, until they are acknowledged", async () => {
    const fake = fakeInput();
    const caps = createPendingCap({ input: fake.input, consumer: "m2", claimIdleMs: 1_000, logger: silentLogger });
    fake.hold("3-0", 4_300, "m1", 600);
    fake.hold("4-0", 4_200, "m1", 700);
    await caps.refresh(0);
    fake.claim("3-0", "m2");
    fake.claim("4-0", "m2");
    await caps.refresh(0);
    expect(caps.cap(0)).toBe(4_200); // claimed, not committed: their results are not downstream yet
    fake.ack("4-0");
    expect(await caps.refresh(0)).toBe(true);
    expect(caps.cap(0)).toBe(4_300);
    fake.ack("3-0");
    expect(await caps.refresh(0)).toBe(true);
    expect(caps.cap(0)).toBeUndefined();
  });

  it("keeps its cap when the buffer cannot be asked, and logs it", async () => {
    const fake = fakeInput();
    const { logger, warnings } = recordingLogger();
    const caps = createPendingCap({ input: fake.input, consumer: "m2", claimIdleMs: 1_000, logger });
    fake.hold("4-0", 4_200, "m1", 700);
    await caps.refresh(0);
    fake.ack("4-0");
    fake.fail(new Error("Redis is unreachable"));
    expect(await caps.refresh(0)).toBe(false);
    expect(caps.cap(0)).toBe(4_200);
    expect(warnings).toHaveLength(1);
  });

  it("applies to durable inputs only: a memory buffer has no other processes", () => {
    const memory = new MemoryBuffer({ name: "p.cat", partitions: 1, maxLength: 10, usageLimit: 1, upstreams: [] });
    expect(suspectInputOf(memory)).toBeUndefined();
    expect(suspectInputOf(undefined)).toBeUndefined();
    expect(suspectInputOf(fakeInput().input as unknown as PartitionedBuffer)).toBeDefined();
  });
});

describe("a vertex's published watermark on a shared durable input", () => {
  function setup() {
    const spec = parseSpec(reduceSpec({ source: { generator: { rpu: 1 } }, reducePartitions: 1, window: { fixed: { length: 100 } }, watermark: { maxDelay: 0 } }), "/base").spec;
    const vertex = spec.spec.vertices.find((candidate) => candidate.name === "cat")!;
    const marks: WatermarkMark[] = [];
    const downstream = { name: "p.counts", partitions: 1, writeWatermark: async (_: number, mark: WatermarkMark) => void marks.push(mark) } as unknown as PartitionedBuffer;
    const fake = fakeInput();
    const watermarks = vertexWatermarks({
      spec,
      vertex,
      processor: "m2",
      downstream: [downstream],
      input: fake.input as unknown as PartitionedBuffer,
      claimIdleMs: 160, // refreshed every 20 ms
      keepAliveMs: 60_000, // so every mark below comes from a change, none from a keep-alive
      logger: silentLogger,
      cancelled: () => false,
    })!;
    return { watermarks, marks, fake };
  }

  it("drops below its last mark to a suspected dead processor's entries on the timer, and comes back once they are acknowledged", async () => {
    const { watermarks, marks, fake } = setup();
    try {
      await watermarks.publish(0, 5_000);
      fake.hold("4-0", 4_200, "m1", 100); // m1 SIGKILLed holding an entry: idle ≥ claimIdle/2
      await waitUntil("the capped mark", () => marks.length >= 2, 5_000, () => marks);
      await watermarks.publish(0, 6_000); // an ack meanwhile: still capped, nothing new to send
      fake.claim("4-0", "m2");
      fake.ack("4-0");
      await waitUntil("the lifted mark", () => marks.length >= 3, 5_000, () => marks);
      expect(marks.map((mark) => [mark.writer, mark.processor, mark.watermark])).toEqual([
        ["cat/0", "m2", 5_000],
        ["cat/0", "m2", 4_200],
        ["cat/0", "m2", 6_000],
      ]);
    } finally {
      watermarks.close();
    }
  });
});
