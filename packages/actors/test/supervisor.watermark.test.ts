import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { batcherMachine, type AckInput, type ReadBatchOutput, type ReadEntry, type SupervisorEmitted } from "@weir/actors";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

// Issue #13: a read's watermark travels reader → batcher → EOT/SEALED → reader → ack → the
// supervisor's `epochCommitted`. These pin what the runtime relies on: the epoch's ack carries
// the watermark of its batches, watermarks never go back, an idle partition's epochs carry the
// last one and are acked when it advances, and pipelines without watermarks see no change.

const END_OF_TIME = Number.MAX_SAFE_INTEGER;

type EpochCommitted = Extract<SupervisorEmitted, { type: "epochCommitted" }>;

const entriesOf = (partition: number, from: number, n: number): ReadEntry[] =>
  Array.from({ length: n }, (_, i) => ({ offset: `${partition}-${from + i}`, message: message(`p${partition}-${from + i}`) }));

/** A read that answers after a moment, as a buffer read would (lets timers fire, interleaves partitions). */
const emptyRead = (output: ReadBatchOutput): Promise<ReadBatchOutput> => new Promise((resolve) => setTimeout(() => resolve(output), 1));

interface Recorded {
  readonly events: Array<{ type: string } & Record<string, unknown>>;
  readonly inspect: (inspection: InspectionEvent) => void;
}

function recordEvents(): Recorded {
  const events: Recorded["events"] = [];
  return {
    events,
    inspect: (inspection) => {
      if (inspection.type === "@xstate.event") events.push(inspection.event as Recorded["events"][number]);
    },
  };
}

describe("supervisor: watermarks through the epoch protocol", () => {
  it("acks each epoch with its batch's watermark, never lower than an earlier epoch's", async () => {
    // readBatchSize 2 and reads of 2: each read fills its epoch, so epoch i holds batch i.
    const watermarks = [10, 30, 20, 40];
    let read = 0;
    const acks: AckInput[] = [];
    const committed: EpochCommitted[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        const i = read;
        read += 1;
        return { entries: entriesOf(0, 2 * i, 2), endOfStream: i === watermarks.length - 1, watermark: watermarks[i]! };
      },
      ackOffsets: async (input) => {
        acks.push(input);
      },
    });
    const actor = createActor(machine, { input: supervisorInput({ readBatchSize: 2, maxInflightEpochs: 1 }) });
    actor.on("epochCommitted", (event) => committed.push(event));
    actor.start();
    expect((await toPromise(actor)).status).toBe("completed");

    expect(acks.map((ack) => [ack.offsets, ack.watermark])).toEqual([
      [["0-0", "0-1"], 10],
      [["0-2", "0-3"], 30],
      [["0-4", "0-5"], 30], // its batch said 20: an older watermark does not lower the epoch's
      [["0-6", "0-7"], 40],
    ]);
    expect(committed.map((event) => event.watermarks)).toEqual([{ 0: 10 }, { 0: 30 }, { 0: 30 }, { 0: 40 }]);
  });

  for (const commitMode of ["aligned", "partition"] as const) {
    it(`gives an idle partition's count-0 EOTs the last watermark and acks its empty epochs only when it advances (${commitMode})`, async () => {
      const batches = 6;
      let p0Read = 0;
      const acks: AckInput[] = [];
      const committed: EpochCommitted[] = [];
      const recorded = recordEvents();
      const machine = wiredSupervisor({
        readBatch: async (input) => {
          if (input.fromPending) return { entries: [], endOfStream: false };
          if (input.partition === 0) {
            const i = p0Read;
            if (i >= batches) return emptyRead({ entries: [], endOfStream: true, watermark: 100 * batches });
            p0Read += 1;
            return emptyRead({ entries: entriesOf(0, 2 * i, 2), endOfStream: false, watermark: 100 * (i + 1) });
          }
          // Partition 1 never has data; its watermark advances once, halfway through partition 0.
          return emptyRead({ entries: [], endOfStream: p0Read >= batches, watermark: p0Read < batches / 2 ? 5 : 50 });
        },
        ackOffsets: async (input) => {
          acks.push(input);
        },
      });
      const actor = createActor(machine, { inspect: recorded.inspect, input: supervisorInput({ partitions: 2, readBatchSize: 2, commitMode }) });
      actor.on("epochCommitted", (event) => committed.push(event));
      actor.start();
      expect((await toPromise(actor)).status).toBe("completed");

      const idleEots = recorded.events.filter((event) => event.type === "batcher.eot" && event["partition"] === 1);
      // Aligned: it closes with every epoch of partition 0. Partition mode: only when it has news.
      if (commitMode === "aligned") expect(idleEots.length).toBeGreaterThanOrEqual(batches / 2);
      else expect(idleEots.map((eot) => eot["watermark"])).toEqual([...new Set(idleEots.map((eot) => eot["watermark"]))]);
      const firstMarked = idleEots.findIndex((eot) => eot["watermark"] !== undefined);
      expect(firstMarked).toBeGreaterThanOrEqual(0);
      // Once it has a watermark, every count-0 EOT of the idle partition carries it, never lower.
      const carried = idleEots.slice(firstMarked).map((eot) => eot["watermark"]);
      expect(carried.every((w) => typeof w === "number")).toBe(true);
      expect(carried).toEqual([...(carried as number[])].sort((a, b) => a - b));
      expect(idleEots.every((eot) => eot["count"] === 0)).toBe(true);

      // Its empty epochs are acked exactly when the watermark advanced: once per distinct watermark.
      const p1Acks = acks.filter((ack) => ack.partition === 1);
      expect(p1Acks.every((ack) => ack.offsets.length === 0)).toBe(true);
      expect(p1Acks.map((ack) => ack.watermark)).toEqual([...new Set(carried)]);
      expect(p1Acks.at(-1)?.watermark).toBe(50);
      const p0Acks = acks.filter((ack) => ack.partition === 0);
      expect(p0Acks.flatMap((ack) => ack.offsets)).toHaveLength(2 * batches);
      expect(p0Acks.at(-1)?.watermark).toBe(100 * batches);
      // The supervisor reports each partition's committed watermark, never going back.
      const p1Committed = committed.flatMap((event) => (event.watermarks?.[1] === undefined ? [] : [event.watermarks[1]]));
      expect(p1Committed).toEqual([...p1Committed].sort((a, b) => a - b));
      expect(p1Committed.at(-1)).toBe(50);
    });
  }

  it("closes a last epoch for a watermark the drain would otherwise leave behind, even without batcher.filling", async () => {
    let reads = 0;
    const acks: AckInput[] = [];
    const machine = wiredSupervisor({
      // As in supervisor.final-close.test.ts: the drain must not depend on `batcher.filling`.
      batcher: batcherMachine.provide({ actions: { reportFilling: () => undefined } }),
      readBatch: async (input) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        reads += 1;
        return reads === 1
          ? { entries: entriesOf(0, 0, 3), endOfStream: false, watermark: 10 }
          : { entries: [], endOfStream: true, watermark: END_OF_TIME }; // a bounded input ended
      },
      ackOffsets: async (input) => {
        acks.push(input);
      },
    });
    const actor = createActor(machine, { input: supervisorInput({ readBatchSize: 3 }) }).start();
    expect((await toPromise(actor)).status).toBe("completed");
    expect(acks.map((ack) => [ack.offsets.length, ack.watermark])).toEqual([
      [3, 10],
      [0, END_OF_TIME],
    ]);
  });

  it("without watermarks sends no watermark-only events, no watermark fields and no empty acks", async () => {
    const batches = 6;
    let p0Read = 0;
    const acks: AckInput[] = [];
    const committed: EpochCommitted[] = [];
    const recorded = recordEvents();
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        if (input.partition === 0 && p0Read < batches) {
          p0Read += 1;
          return { entries: entriesOf(0, 2 * (p0Read - 1), 2), endOfStream: false };
        }
        return emptyRead({ entries: [], endOfStream: p0Read >= batches });
      },
      ackOffsets: async (input) => {
        acks.push(input);
      },
    });
    const actor = createActor(machine, { inspect: recorded.inspect, input: supervisorInput({ partitions: 2, readBatchSize: 2 }) });
    actor.on("epochCommitted", (event) => committed.push(event));
    actor.start();
    expect((await toPromise(actor)).status).toBe("completed");

    const batchReads = recorded.events.filter((event) => event.type === "reader.batchRead");
    expect(batchReads.every((event) => (event["entries"] as unknown[]).length > 0)).toBe(true);
    expect(batchReads).toHaveLength(batches);
    // Partition 1 never reported filling: only data does that without watermarks.
    expect(recorded.events.filter((event) => event.type === "batcher.filling" && event["partition"] === 1)).toEqual([]);
    const withField = recorded.events.filter((event) => "watermark" in event || "unsealedWatermark" in event);
    expect(withField).toEqual([]);
    expect(acks.every((ack) => ack.offsets.length > 0 && !("watermark" in ack))).toBe(true);
    expect(committed.every((event) => !("watermarks" in event))).toBe(true);
  });
});
