import { describe, expect, it } from "vitest";
import { BufferError } from "../src/buffer/buffer-error.js";
import type { WatermarkMark } from "../src/buffer/index.js";
import { silentLogger } from "../src/observability/logger.js";
import { usesEventTime } from "../src/pipeline/uses-event-time.js";
import { createWatermarkPublisher, type WatermarkTarget } from "../src/pipeline/watermark-publisher.js";
import { parseSpec } from "../src/spec/load-spec.js";

/** A downstream buffer that records marks; `failures` makes the next writes throw it. */
function fakeTarget(name: string, partitions: number) {
  const marks: Array<{ partition: number; mark: WatermarkMark }> = [];
  const failures: Error[] = [];
  const target: { -readonly [K in keyof WatermarkTarget]: WatermarkTarget[K] } = {
    name,
    partitions,
    async writeWatermark(partition, mark) {
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      marks.push({ partition, mark });
    },
  };
  return { target, marks, failures };
}

function setup(keepAliveMs = 1_000, cap?: (partition: number) => number | undefined) {
  const clock = { now: 0 };
  const out = fakeTarget("p.out", 2);
  const side = fakeTarget("p.side", 1);
  const publisher = createWatermarkPublisher({
    vertex: "map",
    processor: "w1",
    targets: [out.target, side.target],
    keepAliveMs,
    clock: () => clock.now,
    logger: silentLogger,
    retryInitialMs: 0,
    ...(cap === undefined ? {} : { cap }),
  });
  return { clock, out, side, publisher };
}

describe("the watermark publisher", () => {
  it("writes the mark of writer <vertex>/<partition> to every partition of every target", async () => {
    const { out, side, publisher } = setup();
    await publisher.publish(1, 5_000);
    const mark = { writer: "map/1", processor: "w1", watermark: 5_000 };
    expect(out.marks).toEqual([{ partition: 0, mark }, { partition: 1, mark }]);
    expect(side.marks).toEqual([{ partition: 0, mark }]);
    expect(publisher.stats()).toEqual({ published: 3, failed: 0 });
  });

  it("writes again only when the watermark advanced or the keep-alive is due", async () => {
    const { clock, side, publisher } = setup(1_000);
    await publisher.publish(0, 5_000);
    clock.now = 999;
    await publisher.publish(0, 5_000);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000]);
    await publisher.publish(0, 5_001);
    clock.now = 1_998;
    await publisher.publish(0, 5_001);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000, 5_001]);
    clock.now = 1_999; // 1 000 after the last mark
    await publisher.publish(0, 5_001);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000, 5_001, 5_001]);
  });

  it("never writes a lower watermark than one it published", async () => {
    const { clock, side, publisher } = setup(1_000);
    await publisher.publish(0, 5_000);
    await publisher.publish(0, 4_000);
    clock.now = 1_000;
    await publisher.publish(0, 3_000); // the keep-alive carries 5 000
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000, 5_000]);
    expect(publisher.published(0)).toBe(5_000);
  });

  it("caps a partition's marks, lower than one it published, and sends a changed cap at the next keepAlive, not a keep-alive later", async () => {
    const caps = new Map<number, number>();
    const { side, publisher } = setup(1_000, (partition) => caps.get(partition));
    await publisher.publish(0, 5_000);
    await publisher.publish(1, 5_000);
    caps.set(0, 4_200); // entries of a suspected dead processor of input partition 0
    await publisher.keepAlive(); // clock unchanged: no keep-alive due, the cap alone sends
    await publisher.publish(0, 6_000);
    expect(side.marks.map(({ mark }) => [mark.writer, mark.watermark])).toEqual([
      ["map/0", 5_000],
      ["map/1", 5_000],
      ["map/0", 4_200],
    ]);
    expect(publisher.published(0)).toBe(4_200);
    caps.delete(0); // acknowledged: the highest watermark asked for comes back
    await publisher.keepAlive();
    expect(side.marks.map(({ mark }) => mark.watermark).slice(3)).toEqual([6_000]);
    expect(publisher.published(0)).toBe(6_000);
  });

  it("tracks each input partition as its own writer", async () => {
    const { side, publisher } = setup();
    await publisher.publish(0, 5_000);
    await publisher.publish(1, 3_000);
    expect(side.marks.map(({ mark }) => [mark.writer, mark.watermark])).toEqual([
      ["map/0", 5_000],
      ["map/1", 3_000],
    ]);
  });

  it("keepAlive() re-sends every writer's last watermark once it is due", async () => {
    const { clock, side, publisher } = setup(1_000);
    await publisher.publish(0, 5_000);
    clock.now = 500;
    await publisher.publish(1, 3_000);
    clock.now = 1_000;
    await publisher.keepAlive();
    expect(side.marks.map(({ mark }) => [mark.writer, mark.watermark])).toEqual([
      ["map/0", 5_000],
      ["map/1", 3_000],
      ["map/0", 5_000],
    ]);
  });

  it("retries a retriable write error until the mark is written", async () => {
    const { side, publisher } = setup();
    side.failures.push(new BufferError("BUFFER_UNAVAILABLE", "down", { retriable: true }), new BufferError("BUFFER_UNAVAILABLE", "down", { retriable: true }));
    await publisher.publish(0, 5_000);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000]);
    expect(publisher.stats()).toEqual({ published: 3, failed: 0 });
  });

  it("counts and logs a mark it gives up on, and sends it again with the next publish", async () => {
    const { side, out } = setup();
    const warnings: string[] = [];
    const logged = createWatermarkPublisher({
      vertex: "map",
      processor: "w1",
      targets: [out.target, side.target],
      clock: () => 0,
      logger: { ...silentLogger, warn: (message) => void warnings.push(message) },
    });
    side.failures.push(new BufferError("BUFFER_STREAM_ENDED", "ended"));
    await expect(logged.publish(0, 5_000)).resolves.toBeUndefined();
    expect(logged.stats()).toEqual({ published: 2, failed: 1 });
    expect(warnings).toEqual(["a watermark mark was not written: the watermark downstream is delayed until the next mark"]);
    expect(logged.published(0)).toBeUndefined();
    await logged.publish(0, 5_000); // not advanced, keep-alive not due, yet not delivered everywhere: sent again
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000]);
    expect(logged.published(0)).toBe(5_000);
  });

  it("writes one writer's marks in order: a later mark waits for the one being written", async () => {
    const { side, publisher } = setup();
    let release = () => {};
    const written = side.target.writeWatermark.bind(side.target);
    let started = () => {};
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    side.target.writeWatermark = (partition, mark) => {
      if (mark.watermark !== 5_000) return written(partition, mark);
      started();
      return new Promise<void>((resolve) => (release = resolve)).then(() => written(partition, mark));
    };
    const first = publisher.publish(0, 5_000);
    await firstStarted;
    const second = publisher.publish(0, 6_000);
    release();
    await Promise.all([first, second]);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([5_000, 6_000]);
  });

  it("coalesces marks asked for before the writer's previous one started: the highest goes out", async () => {
    const { side, publisher } = setup();
    await Promise.all([publisher.publish(0, 5_000), publisher.publish(0, 6_000)]);
    expect(side.marks.map(({ mark }) => mark.watermark)).toEqual([6_000]);
  });
});

describe("usesEventTime", () => {
  const spec = (extra: Record<string, unknown>, udf: Record<string, unknown> = { builtin: { name: "cat" } }) =>
    parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "p" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { rpu: 1 } } },
            { name: "u", udf },
            { name: "out", sink: { blackhole: {} } },
          ],
          edges: [{ from: "in", to: "u" }, { from: "u", to: "out" }],
          ...extra,
        },
      },
      ".",
    ).spec;

  it("is false for a pipeline without groupBy or spec.watermark", () => {
    expect(usesEventTime(spec({}))).toBe(false);
  });

  it("is true with spec.watermark", () => {
    expect(usesEventTime(spec({ watermark: { maxDelay: "1s" } }))).toBe(true);
  });

  it("is true with a reduce vertex", () => {
    expect(usesEventTime(spec({}, { builtin: { name: "count" }, groupBy: { window: { fixed: { length: "1s" } } } }))).toBe(true);
  });
});
