import { describe, expect, it } from "vitest";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./support/messages.js";
import { supervisorInput, wiredSupervisor } from "./support/wired-supervisor.js";

interface Transition {
  readonly source: { readonly id: string };
  readonly eventType: string;
}

// Issue 12: an epoch's data went to the sink session in a `batcher.data` frame before its EOT (an
// event and a sink-session step per epoch), and the batcher passed `flushing → eotSent → collecting`
// in two eventless steps per close. The data now rides on the EOT (DATA frames stay valid, see
// sink-session.machine.test.ts), and the batcher rests in `eotSent` until the next event: every
// close still enters `flushing` and `eotSent`, one eventless step instead of two.
describe("batcher: an epoch's data rides on its EOT, and eotSent rests until the next event", () => {
  it("sends no DATA frame, one EOT per close carrying exactly its count, and leaves eotSent only on an event", async () => {
    const partitions = 3;
    const perPartition = 700;
    const inputs = Array.from({ length: partitions }, (_, p) =>
      Array.from({ length: perPartition }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })),
    );
    const types = new Map<string, number>();
    const eots: { count: number; carried: number }[] = [];
    const entered = new Map<string, number>();
    const eventless: string[] = [];
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
      if (inspection.type !== "@xstate.microstep") return;
      const logic = (inspection.actorRef as unknown as { logic?: { id?: unknown } }).logic;
      if (logic?.id !== "batcher") return;
      const value = (inspection.snapshot as { value?: unknown }).value;
      if (typeof value === "string") entered.set(value, (entered.get(value) ?? 0) + 1);
      for (const t of (inspection as unknown as { _transitions: readonly Transition[] })._transitions) {
        if (t.eventType === "") eventless.push(t.source.id);
      }
    };
    const acked: string[] = [];
    const machine = wiredSupervisor({
      readBatch: async (input) => {
        const queue = inputs[input.partition]!;
        // Short reads, so epochs take several hand-overs and some close by timeout or drain.
        const entries = input.fromPending ? [] : queue.splice(0, Math.min(input.max, 40));
        return { entries, endOfStream: !input.fromPending && queue.length === 0 };
      },
      ackOffsets: async (input) => {
        acked.push(...input.offsets);
      },
    });
    const actor = createActor(machine, { inspect, input: supervisorInput({ partitions, readBatchSize: 100, maxInflightEpochs: 2 }) }).start();
    const output = await toPromise(actor);
    expect(output.status).toBe("completed");
    expect(new Set(acked).size).toBe(partitions * perPartition);

    expect(types.get("batcher.data") ?? 0).toBe(0);
    const closes = types.get("supervisor.closeEpoch") ?? 0;
    expect(eots.length).toBeGreaterThanOrEqual((partitions * perPartition) / 100);
    for (const eot of eots) expect(eot.carried).toBe(eot.count);
    expect(eots.reduce((sum, eot) => sum + eot.count, 0)).toBe(partitions * perPartition);
    // Every close is seen: flushing and eotSent entered once per EOT (a close reaches every batcher).
    expect(closes).toBeGreaterThanOrEqual(eots.length);
    expect(entered.get("flushing")).toBe(eots.length);
    expect(entered.get("eotSent")).toBe(eots.length);
    // The only eventless step: flushing → eotSent, once per close.
    expect(eventless.length).toBe(eots.length);
    expect(new Set(eventless)).toEqual(new Set(["batcher.flushing"]));
  });
});
