/**
 * BullMQ: the same messages as jobs (addBulk in batches of 500), a Worker with concurrency 50
 * and a no-op processor.
 */
import { Queue, Worker } from "bullmq";
import { pace, parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const url = new URL(args.redisUrl);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const name = `${args.prefix}-bullmq`;
const queue = new Queue(name, { connection });
const payload = "x".repeat(args.msgSize);
const meter = startMeter();
const startedAt = Date.now();

let done = 0;
let allDone: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (allDone = resolve));
const worker = new Worker(
  name,
  async (job) => {
    meter.latency(Date.now() - (job.data as { t: number }).t);
    done += 1;
    if (done === args.messages) allDone();
  },
  { connection, concurrency: 50, removeOnComplete: { count: 0 } },
);

for (let sent = 0; sent < args.messages; sent += 500) {
  await pace(sent, args.rate, startedAt);
  const count = Math.min(500, args.messages - sent);
  await queue.addBulk(Array.from({ length: count }, () => ({ name: "m", data: { t: Date.now(), v: payload }, opts: { removeOnComplete: true } })));
}
await finished;
await worker.close();
report(meter.finish("BullMQ worker, concurrency 50", done));
await queue.obliterate({ force: true });
await queue.close();
