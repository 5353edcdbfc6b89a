import type { Message, SinkContext } from "@weir/actors";
import { describe, expect, it } from "vitest";
import { MemoryBuffer } from "../src/buffer/index.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { silentLogger } from "../src/observability/logger.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";
import { createForwarder, type ForwardTarget } from "../src/pipeline/forwarder.js";
import { choosePartition, createPartitionChooser } from "../src/pipeline/partition-choice.js";
import { catStage } from "../src/udf/map-function.js";

const context: SinkContext = { vertex: "v", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
const message = (id: string, keys: string[] = []): Message => ({ id, keys, value: new TextEncoder().encode(id), eventTime: 1, headers: {} });

function target(vertex: string, partitions: number, extra: Partial<ForwardTarget> = {}, maxLength = 1_000): ForwardTarget {
  const buffer = new MemoryBuffer({ name: `p.${vertex}`, partitions, maxLength, usageLimit: 1, upstreams: [] });
  return { vertex, buffer, onFull: "retryUntilSuccess", choosePartition: createPartitionChooser(partitions), ...extra };
}

async function contents(forwardTarget: ForwardTarget): Promise<string[][]> {
  const { buffer } = forwardTarget;
  const out: string[][] = [];
  for (let p = 0; p < buffer.partitions; p += 1) {
    const { entries } = await buffer.read(p, { consumer: "c", max: 10_000, timeoutMs: 0 });
    out.push(entries.map((entry) => entry.message.id));
  }
  return out;
}

describe.each([
  ["a source (no stage)", {}],
  ["cat (pass-through)", { stage: catStage, passThrough: true }],
])("forwarder of %s", (_, stageOptions) => {
  it("writes every message to the partition its keys or id choose, in input order, and answers ok for each in order", async () => {
    const three = target("three", 3);
    const one = target("one", 1);
    const counts = emptyCounts();
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [three, one], counts, udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    const batch = Array.from({ length: 200 }, (_, i) => message(`m-${i}`, i % 5 === 0 ? [`k-${i % 7}`] : []));
    const results = await forward(batch, context);
    expect(results).toEqual(batch.map((m) => ({ id: m.id, status: "ok" })));
    const expected = [0, 1, 2].map((p) => batch.filter((m) => choosePartition(3, m.keys, m.id) === p).map((m) => m.id));
    expect(expected.every((ids) => ids.length > 0)).toBe(true);
    expect(await contents(three)).toEqual(expected);
    expect(await contents(one)).toEqual([batch.map((m) => m.id)]);
    expect(counts.written).toBe(400);
  });

  it("routes untagged messages only through edges whose condition they meet, and counts a batch no edge takes as dropped", async () => {
    const keep = target("keep", 2, { condition: { operator: "or", values: ["keep"] } });
    const others = target("others", 2, { condition: { operator: "not", values: ["keep"] } });
    const counts = emptyCounts();
    const batch = [message("a"), message("b"), message("c")];
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [keep, others], counts, udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    await forward(batch, context);
    expect((await contents(keep)).flat()).toEqual([]);
    expect((await contents(others)).flat().sort()).toEqual(["a", "b", "c"]);

    const onlyKeep = createForwarder({ vertex: "v", ...stageOptions, targets: [target("k2", 2, { condition: { operator: "or", values: ["keep"] } })], counts, udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    expect(await onlyKeep(batch, context)).toEqual(batch.map((m) => ({ id: m.id, status: "ok" })));
    expect(counts.dropped).toBe(3);
  });

  // Issue 12: the sink writer makes an attempt's AbortController only when `signal` is read, and a
  // write only needs it while it waits for room; reading it for every write made one per epoch.
  it("reads the attempt's signal only when a write has to wait for room", async () => {
    let reads = 0;
    const controller = new AbortController();
    const counting: SinkContext = {
      vertex: "v",
      partition: 0,
      epoch: 1,
      attempt: 1,
      get signal() {
        reads += 1;
        return controller.signal;
      },
    };
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [target("roomy", 2)], counts: emptyCounts(), udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    await forward([message("a"), message("b"), message("c")], counting);
    expect(reads).toBe(0);

    const tight = target("tight", 1, {}, 2);
    const blocked = createForwarder({ vertex: "v", ...stageOptions, targets: [tight], counts: emptyCounts(), udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    controller.abort();
    await expect(blocked([message("d"), message("e"), message("f")], counting)).rejects.toThrow(/gave up waiting for room/);
    expect(reads).toBeGreaterThan(0);
  });

  it("discards what a full partition cannot take under discardLatest, and counts it", async () => {
    const discards: Array<[number, number]> = [];
    const small = target("small", 1, { onFull: "discardLatest", onDiscard: (p, n) => discards.push([p, n]) }, 4);
    const counts = emptyCounts();
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [small], counts, udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    const batch = Array.from({ length: 10 }, (_, i) => message(`m-${i}`));
    expect(await forward(batch, context)).toEqual(batch.map((m) => ({ id: m.id, status: "ok" })));
    expect(await contents(small)).toEqual([["m-0", "m-1", "m-2", "m-3"]]);
    expect(counts).toMatchObject({ written: 4, dropped: 6 });
    expect(discards).toEqual([[0, 6]]);
  });

  it("fails the attempt as the buffer would, before writing anything, when a partition choice is out of range", async () => {
    const bad = target("bad", 2, { choosePartition: (_keys, id) => (id === "m-3" ? -1 : 0) });
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [bad], counts: emptyCounts(), udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    await expect(forward([message("m-1"), message("m-3")], context)).rejects.toMatchObject({ code: "BUFFER_PARTITION_OUT_OF_RANGE" });
    expect((await contents(bad)).flat()).toEqual([]);
  });

  it("fails before writing anything when a partition choice is past the buffer's partitions", async () => {
    const bad = target("bad", 2, { choosePartition: (_keys, id) => (id === "m-3" ? 2 : 0) });
    const forward = createForwarder({ vertex: "v", ...stageOptions, targets: [bad], counts: emptyCounts(), udfTimeoutMs: 1_000, logger: silentLogger, failures: createFailureLog(silentLogger) });
    await expect(forward([message("m-1"), message("m-3")], context)).rejects.toMatchObject({ code: "BUFFER_PARTITION_OUT_OF_RANGE" });
    expect((await contents(bad)).flat()).toEqual([]);
  });
});
