/**
 * The dashboard's dead-letter view on a real BullMQ queue: counts per vertex, the newest letters
 * first with their reasons, read-only (the queue keeps every job).
 */
import { Queue } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { parseSpec } from "../src/spec/load-spec.js";
import { startDeadLetterPoller } from "../src/ui/dead-letter-view.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("the dashboard's dead letters", () => {
  const prefix = uniquePrefix("dl");
  afterAll(async () => {
    await deleteKeys(url!, `${prefix}:*`);
  });

  it("counts dead letters per vertex and lists the newest with their reasons, without removing any", async () => {
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "dlq" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { total: 1 } } },
            { name: "out", sink: { log: {}, retryStrategy: { onFailure: "fallback" }, fallback: { bullmq: { queue: "dead", url, prefix } } } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      process.cwd(),
    ).spec;
    const queue = new Queue("dead", { connection: { url: url! }, prefix });
    const letter = (id: string, reason: string) => ({ id, keys: [], value: "", encoding: "base64", eventTime: 0, headers: {}, vertex: "out", partition: 1, epoch: 4, reason, attempts: 3 });
    await queue.add("out", letter("m-1", "first failure"), { jobId: "m-1" });
    await queue.add("out", letter("m-2", "sink said fallback: bad row"), { jobId: "m-2", timestamp: Date.now() + 1_000 });
    const poller = startDeadLetterPoller(spec, 50);
    try {
      let view = poller.current();
      while (view.perVertex["out"] !== 2) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        view = poller.current();
      }
      expect(view.error).toBeNull();
      expect(view.newest.map((entry) => [entry.id, entry.reason, entry.partition, entry.epoch, entry.attempts])).toEqual([
        ["m-2", "sink said fallback: bad row", 1, 4, 3],
        ["m-1", "first failure", 1, 4, 3],
      ]);
      expect(await queue.count()).toBe(2);
    } finally {
      await poller.close();
      await queue.close();
    }
  });
});
