import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Seen {
  readonly type: string;
  readonly partition: number | undefined;
  readonly done: boolean;
  readonly entries: number;
}

/** Events to and from partition readers, in order, with the partition of the reader involved. */
function readerEvents(seen: Seen[]) {
  return (inspection: InspectionEvent) => {
    if (inspection.type !== "@xstate.event") return;
    const { event } = inspection;
    if (!/^(reader\.(read|pause|draining|batchRead)|readerIo\.batch)$/.test(event.type)) return;
    const id = (inspection.actorRef as unknown as { id?: string }).id ?? "";
    const fromId = (inspection.sourceRef as unknown as { id?: string } | undefined)?.id ?? "";
    const match = /reader-(\d+)/.exec(`${id} ${fromId}`);
    const fields = event as unknown as { partition?: number; done?: boolean; entries?: readonly unknown[] };
    seen.push({
      type: event.type,
      partition: fields.partition ?? (match === null ? undefined : Number(match[1])),
      done: fields.done === true,
      entries: fields.entries?.length ?? 0,
    });
  };
}

// Issue 12: a reader asked its I/O actor for every read (`reader.read`, one event per read, about
// two per partition-epoch, and an empty read every readTimeout on an idle partition). Now a
// `reader.read` grants the room left in the window and `readerIo` reads on by itself; only the
// answers are events, and an empty read is none.
describe("partition reader: reads stream within a credit", () => {
  it("asks once per grant, not per read, and still delivers and acks every entry once", async () => {
    const partitions = 2;
    const perPartition = 600;
    const seen: Seen[] = [];
    let reads = 0;
    // Short reads: a grant of up to 100 takes several.
    const serve = queuedReads(evenQueues(partitions, perPartition), { chunk: 20 });
    const { output, acked } = await runWired({
      readBatch: (input) => {
        if (!input.fromPending) reads += 1;
        return serve(input);
      },
      inspect: readerEvents(seen),
      input: supervisorInput({ partitions, readBatchSize: 100, maxInflightEpochs: 2, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);
    expect(acked.length).toBe(partitions * perPartition);

    const grants = seen.filter((e) => e.type === "reader.read").length;
    const answers = seen.filter((e) => e.type === "readerIo.batch");
    // The reads go from readerIo to the batcher (reader.batchRead), the answers only end grants.
    const handedOver = seen.filter((e) => e.type === "reader.batchRead");
    expect(handedOver.reduce((sum, e) => sum + e.entries, 0)).toBe(partitions * perPartition);
    expect(reads).toBeGreaterThanOrEqual((partitions * perPartition) / 20);
    // Before: one request per read. A grant is used by up to five reads of 20 here.
    expect(grants).toBeLessThanOrEqual(reads / 2);
    // Every grant ends in exactly one answer that says so.
    expect(answers.filter((e) => e.done).length).toBe(grants);
  });

  it("sends no event for an empty read: an idle partition's reads stay inside readerIo", async () => {
    let idleReads = 0;
    const busy = Array.from({ length: 300 }, (_, i) => ({ offset: String(i), message: message(`b-${i}`) }));
    const seen: Seen[] = [];
    const { output } = await runWired({
      readBatch: async (input) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        if (input.partition === 1) {
          // Idle for a while, then ends: each read waits a little and finds nothing.
          idleReads += 1;
          await new Promise((resolve) => setTimeout(resolve, 1));
          return { entries: [], endOfStream: idleReads >= 30 };
        }
        const entries = busy.splice(0, Math.min(input.max, 25));
        return { entries, endOfStream: busy.length === 0 };
      },
      inspect: readerEvents(seen),
      input: supervisorInput({ partitions: 2, readBatchSize: 50, maxInflightEpochs: 2, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(idleReads).toBe(30);
    const idle = seen.filter((e) => e.partition === 1);
    // One grant and the end of stream's answer: nothing per empty read.
    expect(idle.filter((e) => e.type === "reader.read")).toHaveLength(1);
    expect(idle.filter((e) => e.type === "readerIo.batch").map((e) => e.done)).toEqual([true]);
  });

  it("on a drain, pauses the running grant and reports draining only after its last answer", async () => {
    let next = 0;
    const acks: string[] = [];
    const seen: Seen[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input, signal) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        // An endless input, a few entries per read.
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (signal.aborted) return { entries: [], endOfStream: false };
        const entries = Array.from({ length: Math.min(input.max, 3) }, () => {
          next += 1;
          return { offset: String(next), message: message(`m${input.partition}-${next}`) };
        });
        return { entries, endOfStream: false };
      },
      ackOffsets: async (input) => {
        acks.push(...input.offsets);
      },
    });
    const actor = createActor(machine, {
      inspect: readerEvents(seen),
      input: supervisorInput({ partitions: 2, readBatchSize: 1000, maxInflightEpochs: 2, sinkCommit: false }),
    });
    actor.start();
    // Drain once reads are flowing (a grant of 1000 runs for a while at 3 entries a read).
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (next >= 30) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    actor.send({ type: "pipeline.drain" });
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    // Every entry read was handed over, sealed in an epoch and acked: none lost after the report.
    expect(new Set(acks).size).toBe(next);
    expect(acks.length).toBe(next);
    for (const partition of [0, 1]) {
      const events = seen.filter((e) => e.partition === partition);
      const draining = events.findIndex((e) => e.type === "reader.draining");
      expect(draining).toBeGreaterThan(0);
      expect(events.slice(draining + 1).filter((e) => e.type === "readerIo.batch")).toEqual([]);
      const before = events.slice(0, draining);
      expect(before.filter((e) => e.type === "reader.pause")).toHaveLength(1);
      expect(before[before.length - 1]).toMatchObject({ type: "readerIo.batch", done: true });
    }
  });
});
