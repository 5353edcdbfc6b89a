import { describe, expect, it } from "vitest";
import type { AnyActorRef, InspectionEvent } from "xstate";
import { partitionQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

const srcOf = (ref: unknown): string => {
  const src = (ref as { src?: unknown } | undefined)?.src;
  return typeof src === "string" ? src : "?";
};
const partitionOf = (ref: unknown): number => Number(/-(\d+)$/.exec((ref as { id?: string }).id ?? "")?.[1] ?? -1);

/** Grant ends heard by the readers, seals, and what each batcher holds unsealed (at most, and at each grant end). */
class GrantWatch {
  readonly grantEnds = [0, 0];
  readonly seals = [0, 0];
  maxHeld = 0;
  readonly mismatches: string[] = [];
  private readonly held = new Map<number, number>();

  readonly inspect = (inspection: InspectionEvent) => {
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
      this.seals[p] = (this.seals[p] ?? 0) + 1;
      this.held.set(p, (this.held.get(p) ?? 0) - (event as unknown as { offsets: unknown[] }).offsets.length);
    } else if (src === "partitionReader" && event.type === "readerIo.batch" && (event as { done?: boolean }).done === true) {
      this.grantEnds[p] = (this.grantEnds[p] ?? 0) + 1;
      const unsealed = (inspection.snapshot as unknown as { context: { unsealed: number } }).context.unsealed;
      if (unsealed !== (this.held.get(p) ?? 0)) this.mismatches.push(`p${p}: reader says ${unsealed}, batcher holds ${this.held.get(p) ?? 0}`);
    }
  };
}

// Issue 12, session 8: a grant ended when the credit it started with was used up, and the reader
// took that answer (a step) to grant the room its seals had freed meanwhile — about once per
// partition-epoch. A seal while the grant runs now adds to its credit (`reader.credit`), so in a
// steady stream a grant goes on across epochs; it ends only when the window is really full (the
// epoch that filled it not yet sealed: a throttled close), the input ends or a drain pauses it.
describe("partition reader: a seal extends the running grant", () => {
  it("hears a grant end only when the window is full or the input ends, and keeps the window's bound and count", async () => {
    const readBatchSize = 100;
    // Partition 0 reads a third of a window at a time and fills it first: its `batcher.full`
    // closes the epochs. Partition 1 reads a tenth and never fills its window: its grant goes on.
    const chunk = [33, 10];
    const sizes = [3000, 1000];
    const watch = new GrantWatch();
    const { output, acked } = await runWired({
      // Data arrives between reads (a buffer being written), not all at once.
      readBatch: queuedReads(partitionQueues(sizes), { chunk: (p) => chunk[p]!, pause: () => new Promise((resolve) => setImmediate(resolve)) }),
      inspect: watch.inspect,
      input: supervisorInput({ partitions: 2, readBatchSize, maxInflightEpochs: 4, sinkCommit: false }),
    });
    expect(output.status).toBe("completed");
    expect(acked.length).toBe(4000);
    expect(new Set(acked).size).toBe(4000);
    // Partition 1 is sealed every epoch; without the extension each grant ended when the credit
    // it started with was used up (every ~100 entries), and the reader granted again.
    expect(watch.seals[1]).toBeGreaterThan(10);
    expect(watch.grantEnds[1]).toBeLessThanOrEqual(2);
    // Partition 0 fills its window with the read that fills the epoch; the close that read leads
    // to seals the epoch within the hand-over, so its credit comes back before the grant is judged
    // used up: the grant goes on there too (only a throttled close would leave it waiting).
    expect(watch.seals[0]).toBeGreaterThan(10);
    expect(watch.grantEnds[0]).toBeLessThan(watch.seals[0]! / 4);
    expect(watch.maxHeld).toBeLessThanOrEqual(readBatchSize);
    expect(watch.mismatches).toEqual([]);
  });
});
