/**
 * A suspect (an entry that was in flight at maxDeliveries − 1 deaths) must run alone: if other
 * entries of the process are in flight when it is handed out and it kills the worker, they share
 * its death, and an innocent suspect among them reaches maxDeliveries and goes to the fallback as
 * poison. Fault trial 10.2 did that once (2 poison ids, heap mode): a read of new entries had
 * passed the coordinator's check and was waiting for Redis when another partition's suspect was
 * isolated ("nothing in flight" counted only what reads had returned), so the read's entries came
 * back beside the suspect. Here the read is held at that point (its buffer call waits for the
 * test), the suspect's partition asks to isolate, then the read is let go.
 */
import type { ReadEntry } from "@weir/actors";
import { afterEach, describe, expect, it } from "vitest";
import { RedisStreamBuffer, type PartitionedBuffer } from "../src/buffer/index.js";
import { createJsonLogger } from "../src/observability/logger.js";
import { IsolationCoordinator } from "../src/pipeline/isolation-coordinator.js";
import { createRedeliveryGuard } from "../src/pipeline/redelivery-guard.js";
import { messages } from "./buffer-conformance.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("isolation of a suspect against reads under way", () => {
  const redisUrl = url as string;
  const opened: RedisStreamBuffer[] = [];
  const prefix = uniquePrefix("iso");

  const open = (): RedisStreamBuffer => {
    const buffer = new RedisStreamBuffer({
      name: "iso.v", partitions: 2, maxLength: 1_000, usageLimit: 1, upstreams: [],
      connection: { url: redisUrl }, keyPrefix: prefix, blockSliceMs: 50, framed: true, maxDeliveries: 3,
    });
    opened.push(buffer);
    return buffer;
  };

  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((buffer) => buffer.close()));
    await deleteKeys(redisUrl, `${prefix}:*`);
  });

  /** `buffer` whose reads of new entries on `partition` start, then wait for `release()`. */
  function holdingNewReads(buffer: RedisStreamBuffer, partition: number) {
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held: PartitionedBuffer = new Proxy(buffer, {
      get(target, property) {
        if (property === "read") {
          return async (...args: Parameters<RedisStreamBuffer["read"]>) => {
            if (args[0] === partition && args[1].fromPending !== true) {
              started();
              await released;
            }
            return target.read(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { held, reading, release };
  }

  const ids = (entries: readonly ReadEntry[]) => entries.map((entry) => entry.message.id);

  it("hands a suspect out only once a read that may hand out other entries has come back and its entries are acked", async () => {
    // p1: one entry delivered twice without an ack (two deaths: a suspect). p0: two new entries.
    await open().write(1, messages("s", 1));
    expect((await open().read(1, { consumer: "c1", max: 10, timeoutMs: 0 })).entries).toHaveLength(1);
    expect((await open().read(1, { consumer: "c1", max: 10, timeoutMs: 0, fromPending: true })).entries).toHaveLength(1);
    await open().write(0, messages("n", 2));

    const { held, reading, release } = holdingNewReads(open(), 0);
    const guard = createRedeliveryGuard({
      vertex: "v", buffer: held, consumer: "c1", maxDeliveries: 3, claimIdleMs: 30_000,
      claims: { isDue: () => false }, coordinator: new IsolationCoordinator(new Map()),
      logger: createJsonLogger({ level: "error", write: () => {} }),
    });
    const signal = new AbortController().signal;
    const normal = guard.read({ partition: 0, max: 10, timeoutMs: 0, fromPending: false }, signal);
    await reading;
    // The read of p0 is under way: the suspect must wait (an empty read), not go out beside it.
    const early = await guard.read({ partition: 1, max: 10, timeoutMs: 0, fromPending: true }, signal);
    release();
    const batch = await normal;
    expect(ids(batch.entries)).toEqual(["n0", "n1"]);
    expect(ids(early.entries)).toEqual([]);
    // Still in flight: the suspect waits for the ack.
    expect(ids((await guard.read({ partition: 1, max: 10, timeoutMs: 0, fromPending: true }, signal)).entries)).toEqual([]);
    await guard.ack(0, batch.entries.map((entry) => entry.offset));
    expect(ids((await guard.read({ partition: 1, max: 10, timeoutMs: 0, fromPending: true }, signal)).entries)).toEqual(["s0"]);
  });
});
