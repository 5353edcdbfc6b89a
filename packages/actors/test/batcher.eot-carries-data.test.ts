import { describe, expect, it } from "vitest";
import type { InspectionEvent } from "xstate";
import { microstepsOf } from "./support/microsteps.js";
import { evenQueues, queuedReads, runWired } from "./support/queued-io.js";
import { supervisorInput } from "./support/wired-supervisor.js";

// Issue 12: an epoch's data went to the sink session in a `batcher.data` frame before its EOT (an
// event and a sink-session step per epoch), and the batcher passed `flushing → eotSent → collecting`
// in two eventless steps per close. The data now rides on the EOT (DATA frames stay valid, see
// sink-session.machine.test.ts). Session 8 left one eventless step per close (`flushing → eotSent`);
// session 9 made the close one step: into `flushing` when the epoch collected something, into (or
// staying in) `eotSent` when its EOT goes out alone, and the batcher rests there until the next event.
describe("batcher: an epoch's data rides on its EOT, and a close is one step", () => {
  it("sends no DATA frame, one EOT per close carrying exactly its count, in one step with no eventless one", async () => {
    const partitions = 3;
    const perPartition = 700;
    const types = new Map<string, number>();
    const eots: { count: number; carried: number }[] = [];
    const entered = new Map<string, number>();
    const closedInto = new Map<string, number>();
    const eventless: string[] = [];
    const batcherSteps = microstepsOf("batcher", (_, transitions, { value }) => {
      if (typeof value === "string") entered.set(value, (entered.get(value) ?? 0) + 1);
      for (const t of transitions) {
        if (t.eventType === "") eventless.push(t.source.id);
        if (t.eventType === "supervisor.closeEpoch" && typeof value === "string") closedInto.set(value, (closedInto.get(value) ?? 0) + 1);
      }
    });
    const inspect = (inspection: InspectionEvent) => {
      if (inspection.type === "@xstate.event") {
        const { event } = inspection;
        types.set(event.type, (types.get(event.type) ?? 0) + 1);
        if (event.type === "batcher.eot") {
          const frame = event as unknown as { count: number; messages?: readonly unknown[] };
          eots.push({ count: frame.count, carried: frame.messages?.length ?? 0 });
        }
        return;
      }
      batcherSteps(inspection);
    };
    const { output, acked } = await runWired({
      // Short reads, so epochs take several hand-overs and some close by timeout or drain.
      readBatch: queuedReads(evenQueues(partitions, perPartition), { chunk: 40 }),
      inspect,
      input: supervisorInput({ partitions, readBatchSize: 100, maxInflightEpochs: 2 }),
    });
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);

    expect(types.get("batcher.data") ?? 0).toBe(0);
    const closes = types.get("supervisor.closeEpoch") ?? 0;
    expect(eots.length).toBeGreaterThanOrEqual((partitions * perPartition) / 100);
    for (const eot of eots) expect(eot.carried).toBe(eot.count);
    expect(eots.reduce((sum, eot) => sum + eot.count, 0)).toBe(partitions * perPartition);
    // Every close is seen, and is one step: into flushing when its epoch collected data (every
    // hand-over here carries data), into eotSent when its EOT goes out alone (count 0); the batcher
    // rests there (a hand-over takes it to collecting), so those states are the close steps' alone.
    expect(closes).toBeGreaterThanOrEqual(eots.length);
    const withData = eots.filter((eot) => eot.count > 0).length;
    expect(withData).toBeGreaterThan(0);
    expect(closedInto.get("flushing")).toBe(withData);
    expect(closedInto.get("eotSent") ?? 0).toBe(eots.length - withData);
    expect((entered.get("flushing") ?? 0) + (entered.get("eotSent") ?? 0)).toBe(eots.length);
    // No eventless step at all (it was flushing → eotSent, once per close).
    expect(eventless).toEqual([]);
  });
});
