/**
 * A reduce vertex's ack retried after a commit whose reply was lost, on Redis (issue #13 fault
 * scenario "reduce"): the script applied — offsets acked, windows and watermark written — but the
 * vertex saw an error (Redis restarted or the connection dropped before the reply; ioredis also
 * resends such a command by itself on reconnect). The retry finds its offsets acked already. That
 * is this worker's own commit, not a takeover: the store recognises it (the last commit that
 * applied is recorded with it) and the vertex goes on — emits the closed windows once, with their
 * counts — rather than failing with REDUCE_PARTITION_LOST. A commit of entries another consumer
 * holds still fails.
 */
import type { Message, SinkAnswer } from "@weir/actors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStreamBuffer } from "../src/buffer/index.js";
import { createReduceVertex } from "../src/pipeline/reduce-vertex.js";
import { createRedisWindowStore } from "../src/reduce/redis-window-store.js";
import { findRedisServer, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { countReducer } from "../src/reduce/builtin-reducers.js";
import type { WindowStore } from "../src/reduce/window-store.js";
import { silentLogger } from "../src/observability/logger.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";

const groupBy = { window: { fixed: { length: 1_000 } }, keyed: true, allowedLateness: 0 } as const;
const message = (i: number, eventTime: number): Message => ({ id: `m${i}`, keys: ["k"], value: new Uint8Array(), eventTime, headers: {} });

/** A store whose commit fails after applying, `failures` times ("the reply was lost"). */
function lossyReplies(store: WindowStore, failures: number): WindowStore {
  let left = failures;
  return {
    ...store,
    async commit(...args) {
      const acked = await store.commit(...args);
      if (left > 0) {
        left -= 1;
        throw new Error("Connection is closed.");
      }
      return acked;
    },
  };
}

let server: RedisServer;
const buffers: RedisStreamBuffer[] = [];

async function setup(consumer: string, storeOf: (buffer: RedisStreamBuffer) => WindowStore) {
  const buffer = new RedisStreamBuffer({ name: "r.counts", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], keyPrefix: uniquePrefix("rc"), connection: { url: server.url } });
  buffers.push(buffer);
  const emitted: Message[] = [];
  const vertex = createReduceVertex({
    vertex: "counts",
    partitions: 1,
    groupBy,
    reducer: countReducer,
    store: storeOf(buffer),
    forward: async (messages): Promise<readonly SinkAnswer[]> => {
      emitted.push(...messages);
      return messages.map((result) => ({ id: result.id, status: "ok" }));
    },
    counts: emptyCounts(),
    failures: createFailureLog(silentLogger),
    logger: silentLogger,
  });
  await vertex.start();
  await buffer.write(0, [message(0, 100), message(1, 200), message(2, 1_500)]);
  const batch = await buffer.read(0, { consumer, max: 10, timeoutMs: 0 });
  const context = { vertex: "counts", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
  await vertex.sink(batch.entries.map((entry) => entry.message), context);
  const ack = { vertex: "counts", partition: 0, epoch: 1, offsets: batch.entries.map((entry) => entry.offset), watermark: 1_200 };
  return { buffer, vertex, emitted, ack };
}

describe.skipIf(findRedisServer() === undefined)("reduce vertex on Redis: an ack retried after a commit whose reply was lost", () => {
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.allSettled(buffers.map((buffer) => buffer.close()));
    await server?.stop();
  });

  it("goes on with the commit the store applied: the closed window is emitted once with its count", async () => {
    const { vertex, emitted, ack } = await setup("c1", (buffer) => lossyReplies(createRedisWindowStore({ buffer, consumer: "c1" }), 1));
    await expect(vertex.ack(ack)).rejects.toThrow("Connection is closed.");
    // The reader retries a failed ack with the same epoch and offsets.
    await vertex.ack(ack);
    expect(emitted.map((result) => JSON.parse(new TextDecoder().decode(result.value)))).toEqual([{ keys: ["k"], start: 0, end: 1_000, count: 2 }]);
    expect(vertex.openWindows(0)).toBe(1);
  });

  it("still fails with REDUCE_PARTITION_LOST when another consumer holds the entries", async () => {
    // c2's store commits entries c1 read: not pending for c2, and nothing of c2's was applied.
    const { vertex, emitted, ack } = await setup("c1", (buffer) => lossyReplies(createRedisWindowStore({ buffer, consumer: "c2" }), 1));
    await expect(vertex.ack(ack)).rejects.toThrow("Connection is closed.");
    await expect(vertex.ack(ack)).rejects.toMatchObject({ code: "REDUCE_PARTITION_LOST" });
    expect(emitted).toEqual([]);
  });
});
