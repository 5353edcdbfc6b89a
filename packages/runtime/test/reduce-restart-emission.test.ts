/**
 * A reduce vertex that restarts with windows already closable (committed before a crash, not yet
 * emitted) writes their results downstream. With every vertex in one process and the next buffer
 * full, that write waits for a reader that only runs once the actors start: so `start()` must not
 * wait for it (create-pipeline.ts awaits `start()` before the actors start).
 */
import { describe, expect, it } from "vitest";
import type { Message, SinkAnswer } from "@weir/actors";
import { createReduceVertex } from "../src/pipeline/reduce-vertex.js";
import { countReducer } from "../src/reduce/builtin-reducers.js";
import type { WindowStore } from "../src/reduce/window-store.js";
import { emptyCounts, silentLogger } from "../src/index.js";
import { createFailureLog } from "../src/observability/failure-log.js";

function keptStore(): WindowStore {
  const windows = new Map<string, string>();
  let watermark: number | undefined;
  return {
    load: async () => ({ windows: new Map(windows), watermark }),
    commit: async (_partition, offsets, change, committed) => {
      for (const [field, json] of change.set) windows.set(field, json);
      for (const field of change.remove) windows.delete(field);
      if (committed !== undefined) watermark = committed;
      return offsets.length;
    },
    forget: async (_partition, fields) => {
      for (const field of fields) windows.delete(field);
    },
    close: async () => undefined,
  };
}

const message = (id: string, eventTime: number): Message => ({ id, keys: ["k"], value: new Uint8Array(), eventTime, headers: {} });
const contextOf = (epoch: number) => ({ vertex: "counts", partition: 0, epoch, attempt: 1, signal: new AbortController().signal });

function create(store: WindowStore, forward: (messages: readonly Message[]) => Promise<readonly SinkAnswer[]>, cancelled = false) {
  return createReduceVertex({
    vertex: "counts",
    partitions: 1,
    groupBy: { window: { fixed: { length: 1_000 } }, keyed: true, allowedLateness: 0 },
    reducer: countReducer,
    store,
    forward: async (messages) => forward(messages),
    counts: emptyCounts(),
    failures: createFailureLog(silentLogger),
    logger: silentLogger,
    cancelled: () => cancelled,
    retryDelayMs: () => 1,
  });
}

describe("reduce vertex: windows a restart finds closable", () => {
  it("are emitted once the actors run: start() does not wait for a downstream that cannot take them yet", async () => {
    const store = keptStore();
    // The first run commits the window closed (watermark 2,500) and ends before writing its result.
    const first = create(store, async () => Promise.reject(new Error("downstream full")), true);
    await first.start();
    await first.sink([message("a", 1_500), message("b", 1_700)], contextOf(1));
    await expect(first.ack({ vertex: "counts", partition: 0, epoch: 1, offsets: ["1", "2"], watermark: 2_500 })).rejects.toThrow(/run ended/);

    // The restart's downstream takes nothing until its reader runs, i.e. after start().
    let readerRuns!: () => void;
    const running = new Promise<void>((resolve) => (readerRuns = resolve));
    const forwarded: string[] = [];
    const vertex = create(store, async (messages) => {
      await running;
      forwarded.push(...messages.map((m) => m.id));
      return messages.map((m) => ({ id: m.id, status: "ok" as const }));
    });
    await vertex.start();
    readerRuns();
    // The next ack of the partition follows the restored emission, and does not repeat it.
    await vertex.ack({ vertex: "counts", partition: 0, epoch: 1, offsets: [], watermark: 2_600 });
    expect(forwarded).toEqual(['counts:1000:2000:["k"]']);
    expect(vertex.openWindows(0)).toBe(0);
    expect((await store.load(0)).windows.size).toBe(0);
  });
});
