/**
 * A reduce vertex's ack that failed after its commit (closed windows' state could not be deleted:
 * Redis unreachable for a moment) is retried by the reader with the same epoch. The retry must not
 * commit again — the offsets are acked already, so a second commit acks none and would be taken
 * for a lost partition (REDUCE_PARTITION_LOST, fatal) — but finish the close: emit and forget.
 */
import { describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import { createReduceVertex } from "../src/pipeline/reduce-vertex.js";
import { countReducer } from "../src/reduce/builtin-reducers.js";
import type { WindowStore } from "../src/reduce/window-store.js";
import { emptyCounts, silentLogger } from "../src/index.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { END_OF_TIME } from "../src/time/watermark.js";

/** Acks an offset once (a second ack of it finds it no longer pending); the first forget fails. */
function flakyStore(): WindowStore & { readonly windows: Map<string, string> } {
  const acked = new Set<string>();
  const windows = new Map<string, string>();
  let forgets = 0;
  return {
    windows,
    load: async () => ({ windows: new Map(windows), watermark: undefined }),
    commit: async (_partition, offsets, change) => {
      for (const [field, json] of change.set) windows.set(field, json);
      for (const field of change.remove) windows.delete(field);
      const fresh = offsets.filter((offset) => !acked.has(offset));
      for (const offset of fresh) acked.add(offset);
      return fresh.length;
    },
    forget: async (_partition, fields) => {
      forgets += 1;
      if (forgets === 1) throw new Error("connection lost (retriable)");
      for (const field of fields) windows.delete(field);
    },
    close: async () => undefined,
  };
}

const message = (id: string, eventTime: number): Message => ({ id, keys: ["k"], value: new Uint8Array(), eventTime, headers: {} });

describe("reduce vertex: an ack retried after its commit succeeded", () => {
  const create = (store: WindowStore, forwarded: string[] = []) =>
    createReduceVertex({
      vertex: "counts",
      partitions: 1,
      groupBy: { window: { fixed: { length: 1_000 } }, keyed: true, allowedLateness: 0 },
      reducer: countReducer,
      store,
      forward: async (messages) => {
        forwarded.push(...messages.map((m) => m.id));
        return messages.map((m) => ({ id: m.id, status: "ok" as const }));
      },
      counts: emptyCounts(),
      failures: createFailureLog(silentLogger),
      logger: silentLogger,
      retryDelayMs: () => 1,
    });
  const contextOf = (epoch: number) => ({ vertex: "counts", partition: 0, epoch, attempt: 1, signal: new AbortController().signal });

  it("does not commit twice, and emits and forgets the closed windows", async () => {
    const store = flakyStore();
    const forwarded: string[] = [];
    const vertex = create(store, forwarded);
    await vertex.start();
    await vertex.sink([message("a", 1_500), message("b", 1_700)], contextOf(1));
    const ack = { vertex: "counts", partition: 0, epoch: 1, offsets: ["1", "2"], watermark: END_OF_TIME };

    await expect(vertex.ack(ack)).rejects.toThrow(/connection lost/);
    await vertex.ack(ack); // the reader's retry of the same epoch

    expect(forwarded).toContain('counts:1000:2000:["k"]');
    expect(store.windows.size).toBe(0);
    expect(vertex.openWindows(0)).toBe(0);
  });

  it("still refuses a later epoch whose entries another worker took (REDUCE_PARTITION_LOST)", async () => {
    const store = flakyStore();
    await store.commit(0, ["3"], { set: new Map(), remove: [] }, undefined); // acked by the worker that took over
    const vertex = create(store);
    await vertex.start();
    await vertex.sink([message("a", 1_500)], contextOf(1));
    await vertex.ack({ vertex: "counts", partition: 0, epoch: 1, offsets: ["1"], watermark: 1_200 });
    await vertex.sink([message("c", 1_600)], contextOf(2));
    await expect(vertex.ack({ vertex: "counts", partition: 0, epoch: 2, offsets: ["3"], watermark: 1_300 })).rejects.toMatchObject({ code: "REDUCE_PARTITION_LOST" });
  });
});
