/**
 * The redelivery guard wraps every read of a Redis-buffered vertex: the watermark a read reports
 * (issue #13) must reach the partition reader through it, also when the guard goes on to claim
 * a dead consumer's entries after a read that brought no data.
 */
import { describe, expect, it } from "vitest";
import { MemoryBuffer, type PartitionedBuffer } from "../src/buffer/index.js";
import { createJsonLogger } from "../src/observability/logger.js";
import { IsolationCoordinator } from "../src/pipeline/isolation-coordinator.js";
import { createRedeliveryGuard } from "../src/pipeline/redelivery-guard.js";
import { messages } from "./buffer-conformance.js";

function guardedMemory(claimDue: boolean) {
  const memory = new MemoryBuffer({ name: "p.v", partitions: 1, maxLength: 100, usageLimit: 1, upstreams: [], watermarkWriters: ["up/0"] });
  // The guard needs a durable buffer's pendingDeliveries; the memory buffer stands in, with none pending.
  const buffer: PartitionedBuffer = Object.assign(Object.create(memory) as MemoryBuffer, { pendingDeliveries: async () => [] });
  const guard = createRedeliveryGuard({
    vertex: "v",
    buffer,
    consumer: "c1",
    maxDeliveries: 5,
    claimIdleMs: 30_000,
    claims: { isDue: () => claimDue },
    coordinator: new IsolationCoordinator(new Map()),
    logger: createJsonLogger({ level: "error", write: () => {} }),
  });
  return { memory, guard };
}

const request = { partition: 0, max: 10, timeoutMs: 0, fromPending: false };

describe("redelivery guard and watermarks", () => {
  it("passes a marks-only read's watermark through, also when a claim follows the read", async () => {
    for (const claimDue of [false, true]) {
      const { memory, guard } = guardedMemory(claimDue);
      await memory.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 5 });
      const batch = await guard.read(request, new AbortController().signal);
      expect(batch, `claim due: ${claimDue}`).toEqual({ entries: [], endOfStream: false, watermark: 5 });
    }
  });

  it("passes the watermark of a read that brought data", async () => {
    const { memory, guard } = guardedMemory(true);
    await memory.write(0, messages("a", 2));
    await memory.writeWatermark(0, { writer: "up/0", processor: "w1", watermark: 9 });
    const batch = await guard.read(request, new AbortController().signal);
    expect(batch.entries).toHaveLength(2);
    expect(batch.watermark).toBe(9);
  });
});
