import { describe, expect, it } from "vitest";
import { createActor, toPromise } from "xstate";
import { defaultRetryPolicy, type AckInput, type ReadBatchInput, type ReadBatchOutput, type ReadEntry } from "@weir/actors";
import { sinkConnectorFromFunction } from "../src/connectors/sink-connector.js";
import { memoryTokenBucket } from "../src/flow/rate-store.js";
import { RateLimiter } from "../src/flow/rate-limiter.js";
import { withRateLimit } from "../src/flow/rate-limited-read.js";
import { silentLogger } from "../src/observability/logger.js";
import { createTraceRecorder } from "../src/observability/trace-recorder.js";
import { parseTraceLine } from "../src/observability/trace-format.js";
import { replayTrace } from "../src/observability/trace-replay.js";
import { provideVertexMachine } from "../src/pipeline/vertex-machine.js";
import type { PartitionedBuffer } from "../src/buffer/index.js";
import { createClaimSchedule } from "../src/pipeline/claim-schedule.js";
import { IsolationCoordinator } from "../src/pipeline/isolation-coordinator.js";
import { createRedeliveryGuard } from "../src/pipeline/redelivery-guard.js";
import { END_OF_TIME } from "../src/time/watermark.js";

// Issue #13: the runtime's side of the actors' watermark. What `VertexIO.read` answers with a
// watermark must reach `VertexIO.ack` with its epoch, a recorded trace must keep it, and
// `weir trace replay` must replay traces with and without it.

const entriesOf = (from: number, n: number): ReadEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    offset: `0-${from + i}`,
    message: { id: `m${from + i}`, keys: [], value: new Uint8Array(4), eventTime: 1_000 + from + i, headers: {} },
  }));

/** Three batches of 2, then the end; with `watermarks`, each read reports the next one. */
function scriptedRead(watermarks: readonly number[] | undefined) {
  let reads = 0;
  return async (input: ReadBatchInput): Promise<ReadBatchOutput> => {
    if (input.fromPending) return { entries: [], endOfStream: false };
    const i = reads;
    reads += 1;
    const batch = i < 3 ? { entries: entriesOf(2 * i, 2), endOfStream: false } : { entries: [], endOfStream: true };
    const watermark = watermarks?.[i];
    return watermark === undefined ? batch : { ...batch, watermark };
  };
}

async function runVertex(read: (input: ReadBatchInput) => Promise<ReadBatchOutput>) {
  const acks: AckInput[] = [];
  const lines: string[] = [];
  const recorder = createTraceRecorder({ write: (line) => lines.push(line), pipeline: "wm" });
  const machine = provideVertexMachine({
    read,
    ack: async (input) => {
      acks.push(input);
    },
    sink: sinkConnectorFromFunction(async (messages) => messages.map((m) => ({ id: m.id, status: "ok" as const }))),
    fallback: async () => undefined,
  });
  const actor = createActor(machine, {
    inspect: recorder.inspect,
    input: {
      vertex: "in",
      partitions: 1,
      readBatchSize: 2,
      readTimeoutMs: 5,
      maxInflightEpochs: 1,
      retry: defaultRetryPolicy,
      resultTimeoutMs: 1_000,
      sinkCommit: false,
    },
  });
  actor.start();
  const output = await toPromise(actor);
  recorder.end();
  return { output, acks, lines };
}

describe("the vertex's watermark pass-through (VertexIO.read → VertexIO.ack)", () => {
  it("acks each epoch with its watermark, the end's included, and records it in the trace, which replays", async () => {
    const { output, acks, lines } = await runVertex(scriptedRead([1_000, 1_002, 1_004, END_OF_TIME]));
    expect(output.status).toBe("completed");
    expect(acks.map((ack) => [ack.offsets, ack.watermark])).toEqual([
      [["0-0", "0-1"], 1_000],
      [["0-2", "0-3"], 1_002],
      [["0-4", "0-5"], 1_004],
      [[], END_OF_TIME], // an epoch without data, acked to carry the end's watermark
    ]);

    const records = lines.map((line) => JSON.parse(line) as { k: string; e?: unknown });
    // The reads' watermarks, as the trace has them: on the hand-overs readerIo sends the batcher and
    // on the answers that end its grants (a seal extends a running grant, issue 12: fewer answers).
    const fromReaderIo = records.filter((r) => r.k === "io" && ["readerIo.batch", "reader.batchRead"].includes((r.e as { type?: string }).type ?? ""));
    const watermarks = fromReaderIo.map((r) => (r.e as { watermark?: number }).watermark).filter((wm) => wm !== undefined);
    expect([...new Set(watermarks)]).toEqual([1_000, 1_002, 1_004, END_OF_TIME]);
    const eots = records.filter((r) => r.k === "ev" && JSON.stringify(r).includes('"batcher.eot"'));
    expect(eots.length).toBeGreaterThan(0);
    expect(eots.every((r) => JSON.stringify(r).includes('"watermark"'))).toBe(true);

    const replayed = await replayTrace(lines.map(parseTraceLine));
    expect(replayed.divergence?.diff).toBeUndefined();
    expect(replayed.ok).toBe(true);
  });

  it("without watermarks acks no empty epoch, records no watermark, and its trace replays", async () => {
    const { output, acks, lines } = await runVertex(scriptedRead(undefined));
    expect(output.status).toBe("completed");
    expect(acks.map((ack) => ack.offsets.length)).toEqual([2, 2, 2]);
    expect(acks.some((ack) => "watermark" in ack)).toBe(false);
    expect(lines.some((line) => line.includes("watermark"))).toBe(false);
    const replayed = await replayTrace(lines.map(parseTraceLine));
    expect(replayed.ok).toBe(true);
  });
});

describe("withRateLimit keeps the read's watermark", () => {
  it("on a limited read and on a pending read", async () => {
    let now = 0;
    const limiter = new RateLimiter({
      vertex: "out",
      store: memoryTokenBucket({ max: 30, min: 30, rampUpMs: 0 }, () => now),
      initialRate: 30,
      logger: silentLogger,
      clock: () => now,
      sleep: async (ms) => void (now += ms),
    });
    const read = withRateLimit({ limiter, observe: (w) => w, observeConnector: (c) => c }, async (input) => ({
      entries: entriesOf(0, Math.min(input.max, 2)),
      endOfStream: false,
      watermark: 77,
    }));
    const signal = new AbortController().signal;
    const request: ReadBatchInput = { vertex: "out", partition: 0, max: 10, timeoutMs: 1_000, fromPending: false };
    expect((await read(request, signal)).watermark).toBe(77);
    expect((await read({ ...request, fromPending: true }, signal)).watermark).toBe(77);
  });
});

describe("the redelivery guard keeps the buffer read's watermark", () => {
  function guardOver(options: { pending: readonly ReadEntry[]; claimable: boolean }) {
    const own = options.pending.map((entry) => ({ offset: entry.offset, consumer: "me", idleMs: 0, deliveries: 1 }));
    // The buffer calls the guard makes, no more: a memory buffer has no pending deliveries to list.
    const buffer = {
      partitions: 1,
      pendingDeliveries: async (_: number, query: { consumer?: string }) => (query.consumer === "me" ? own : []),
      read: async (_: number, request: { fromPending?: boolean }) =>
        request.fromPending ? { entries: options.pending, endOfStream: false, watermark: 40 } : { entries: [], endOfStream: false, watermark: 41 },
      claimIdle: async () => [],
      ack: async () => undefined,
    } as unknown as PartitionedBuffer;
    return createRedeliveryGuard({
      vertex: "v",
      buffer,
      consumer: "me",
      maxDeliveries: 5,
      claimIdleMs: options.claimable ? 60_000 : 0,
      claims: createClaimSchedule(options.claimable ? 60_000 : 0),
      coordinator: new IsolationCoordinator(new Map()),
      logger: silentLogger,
    });
  }
  const signal = new AbortController().signal;

  it("on its own pending entries re-read after a restart", async () => {
    const guard = guardOver({ pending: entriesOf(0, 2), claimable: false });
    const batch = await guard.read({ partition: 0, max: 10, timeoutMs: 0, fromPending: true }, signal);
    expect(batch.entries).toHaveLength(2);
    expect(batch.watermark).toBe(40);
  });

  it("on an empty read followed by a claim", async () => {
    const guard = guardOver({ pending: [], claimable: true });
    const batch = await guard.read({ partition: 0, max: 10, timeoutMs: 0, fromPending: false }, signal);
    expect(batch.entries).toHaveLength(0);
    expect(batch.watermark).toBe(41);
  });
});
