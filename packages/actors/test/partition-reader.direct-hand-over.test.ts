import { describe, expect, it } from "vitest";
import { createActor, toPromise, type AnyActorRef, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

const srcOf = (ref: unknown): string => {
  const src = (ref as { src?: unknown } | undefined)?.src;
  return typeof src === "string" ? src : "?";
};
const partitionOf = (ref: unknown): number => Number(/-(\d+)$/.exec((ref as { id?: string }).id ?? "")?.[1] ?? -1);

/** What the inspection says about hand-overs and the reader's window, per partition. */
class WindowWatch {
  readonly batchReadSources = new Map<string, number>();
  answersToReader = 0;
  doneAnswers = 0;
  /** Entries the batcher took, minus offsets the reader took back sealed, per partition. */
  private readonly held = new Map<number, number>();
  maxHeld = 0;
  /** Reader steps that ended a grant whose context disagreed with what the batcher holds. */
  readonly mismatches: string[] = [];

  readonly inspect = (inspection: InspectionEvent) => {
    if (inspection.type === "@xstate.event") {
      const { event } = inspection;
      if (event.type === "reader.batchRead") {
        const from = srcOf(inspection.sourceRef);
        this.batchReadSources.set(from, (this.batchReadSources.get(from) ?? 0) + 1);
      } else if (event.type === "readerIo.batch") {
        this.answersToReader += 1;
        if ((event as { done?: boolean }).done === true) this.doneAnswers += 1;
      }
      return;
    }
    if (inspection.type !== "@xstate.snapshot") return;
    const ref = inspection.actorRef as AnyActorRef;
    const { event } = inspection;
    const src = srcOf(ref);
    const p = partitionOf(ref);
    if (src === "batcher" && event.type === "reader.batchRead") {
      const held = (this.held.get(p) ?? 0) + (event as unknown as { entries: unknown[] }).entries.length;
      this.held.set(p, held);
      this.maxHeld = Math.max(this.maxHeld, held);
    } else if (src === "partitionReader" && event.type === "batcher.sealed") {
      this.held.set(p, (this.held.get(p) ?? 0) - (event as unknown as { offsets: unknown[] }).offsets.length);
    } else if (src === "partitionReader" && event.type === "readerIo.batch" && (event as { done?: boolean }).done === true) {
      const unsealed = (inspection.snapshot as unknown as { context: { unsealed: number } }).context.unsealed;
      if (unsealed !== (this.held.get(p) ?? 0)) this.mismatches.push(`p${p}: reader says ${unsealed}, batcher holds ${this.held.get(p) ?? 0}`);
    }
  };
}

// Issue 12: every read went readerIo → reader (`readerIo.batch`) → batcher (`reader.batchRead`),
// two events and a reader step per read. `fromPartitionIo` now hands its reads to the batcher
// itself and answers the reader only when a grant ends, with the count it handed over; the reader
// still owns the offsets (they come back on SEALED) and its window stays exact.
describe("partition reader: its readerIo hands reads to the batcher", () => {
  it("sends reads to the batcher directly, answers the reader once per grant, and keeps the window exact", async () => {
    const partitions = 2;
    const perPartition = 600;
    const readBatchSize = 100;
    const watch = new WindowWatch();
    const { output, acked } = await runWired({
      // Short reads: a grant takes several.
      readBatch: queuedReads(evenQueues(partitions, perPartition), { chunk: 30 }),
      inspect: watch.inspect,
      input: supervisorInput({ partitions, readBatchSize, maxInflightEpochs: 2, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(partitions * perPartition);
    expect(new Set(acked).size).toBe(partitions * perPartition);

    // Every hand-over comes from the reader's I/O actor, none through the reader.
    expect([...watch.batchReadSources.keys()]).toEqual(["readerIo"]);
    // The reader hears only the answers that end grants.
    expect(watch.answersToReader).toBe(watch.doneAnswers);
    // The window: never more than readBatchSize unsealed, and the reader's count exact when a grant ends.
    expect(watch.maxHeld).toBeLessThanOrEqual(readBatchSize);
    expect(watch.mismatches).toEqual([]);
  });

  it("drains with the exact unsealed count while reads are handed over directly", async () => {
    const readBatchSize = 50;
    let next = 0;
    const watch = new WindowWatch();
    const drainingCounts: number[] = [];
    const acked: string[] = [];
    const machine = wiredSupervisor({
      // An endless input of short reads: only a drain ends the run.
      readBatch: async (input) => {
        if (input.fromPending) return { entries: [], endOfStream: false };
        const n = Math.min(input.max, 7);
        const entries = Array.from({ length: n }, () => {
          const i = next++;
          return { offset: String(i), message: message(`m-${i}`) };
        });
        return { entries, endOfStream: false };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, {
      inspect: (inspection) => {
        watch.inspect(inspection);
        if (inspection.type === "@xstate.event" && inspection.event.type === "reader.draining") {
          drainingCounts.push((inspection.event as unknown as { unsealed: number }).unsealed);
        }
      },
      input: supervisorInput({ partitions: 1, readBatchSize, maxInflightEpochs: 2, sinkCommit: false }),
    }).start();
    await new Promise<void>((resolve) => {
      const sub = actor.subscribe(() => {
        if (acked.length >= 200) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    actor.send({ type: "pipeline.drain" });
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(drainingCounts.length).toBe(1);
    // Everything read was acked once: the drain's last close took exactly what the batcher held.
    expect(acked.length).toBe(next);
    expect(new Set(acked).size).toBe(next);
    expect([...watch.batchReadSources.keys()]).toEqual(["readerIo"]);
    expect(watch.mismatches).toEqual([]);
  });

  it("counts what a grant handed over before one of its reads failed", async () => {
    const readBatchSize = 100;
    let reads = 0;
    const watch = new WindowWatch();
    const serve = queuedReads(evenQueues(1, 600), { chunk: 30 });
    const { output, acked } = await runWired({
      readBatch: async (input) => {
        if (input.fromPending) return serve(input);
        reads += 1;
        // Every third read fails (retriable), after the grant's earlier reads were handed over.
        if (reads % 3 === 0) throw new Error("read failed (test)");
        return serve(input);
      },
      inspect: watch.inspect,
      input: supervisorInput({ partitions: 1, readBatchSize, maxInflightEpochs: 2, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(600);
    expect(new Set(acked).size).toBe(600);
    expect(watch.maxHeld).toBeLessThanOrEqual(readBatchSize);
    expect(watch.mismatches).toEqual([]);
  });
});
