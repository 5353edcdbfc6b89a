/**
 * A reduce vertex's ack goes through its partition's window keeper (issue #13): attached to a
 * keeper of the vertex's actor system, the ack is that keeper's commit; a keeper stopped before
 * it answered (the vertex's supervisor stopping) ends the ack with an error instead of leaving it
 * pending forever.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { fromWindowIo, windowKeeperMachine, type Message } from "@weir/actors";
import { createReduceVertex } from "../src/pipeline/reduce-vertex.js";
import { countReducer } from "../src/reduce/builtin-reducers.js";
import type { WindowStore } from "../src/reduce/window-store.js";
import { emptyCounts, silentLogger } from "../src/index.js";
import { createFailureLog } from "../src/observability/failure-log.js";
import { END_OF_TIME } from "../src/time/watermark.js";

function store(commit: WindowStore["commit"]): WindowStore {
  return { load: async () => ({ windows: new Map(), watermark: undefined }), commit, forget: async () => undefined, close: async () => undefined };
}

const message = (id: string, eventTime: number): Message => ({ id, keys: ["k"], value: new Uint8Array(), eventTime, headers: {} });

function create(windowStore: WindowStore, forwarded: string[]) {
  return createReduceVertex({
    vertex: "counts",
    partitions: 1,
    groupBy: { window: { fixed: { length: 1_000 } }, keyed: true, allowedLateness: 0 },
    reducer: countReducer,
    store: windowStore,
    forward: async (messages) => {
      forwarded.push(...messages.map((m) => m.id));
      return messages.map((m) => ({ id: m.id, status: "ok" as const }));
    },
    counts: emptyCounts(),
    failures: createFailureLog(silentLogger),
    logger: silentLogger,
  });
}

const context = { vertex: "counts", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
const ack = { vertex: "counts", partition: 0, epoch: 1, offsets: ["1"], watermark: END_OF_TIME };

describe("reduce vertex: the ack through an attached window keeper", () => {
  it("is the keeper's commit: committing, closing, emitting, forgetting, idle", async () => {
    const forwarded: string[] = [];
    const vertex = create(store(async (_p, offsets) => offsets.length), forwarded);
    await vertex.start();
    const keeper = createActor(windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(vertex.windowIo) } }), { input: { vertex: "counts", partition: 0 } });
    const states: string[] = [];
    keeper.subscribe((snapshot) => states.push(String(snapshot.value)));
    keeper.start();
    vertex.attach(() => keeper);
    await vertex.sink([message("a", 1_500)], context);
    await vertex.ack(ack);
    expect(forwarded).toEqual(['counts:1000:2000:["k"]']);
    expect(states).toEqual(["idle", "committing", "closing", "emitting", "forgetting", "idle"]);
    expect(keeper.getSnapshot().context).toMatchObject({ openWindows: 0, watermark: END_OF_TIME, lastClosed: 1 });
  });

  it("fails, naming the partition, when the keeper stops before answering", async () => {
    let committing: (() => void) | undefined;
    const started = new Promise<void>((resolve) => (committing = resolve));
    const vertex = create(store(() => (committing?.(), new Promise<number>(() => undefined))), []);
    await vertex.start();
    const keeper = createActor(windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(vertex.windowIo) } }), { input: { vertex: "counts", partition: 0 } });
    keeper.start();
    vertex.attach(() => keeper);
    await vertex.sink([message("a", 1_500)], context);
    const acked = vertex.ack(ack);
    await started;
    keeper.stop();
    await expect(acked).rejects.toThrow(/partition 0's window keeper stopped before it answered epoch 1/);
  });
});
