/**
 * A well-pipelined raw ioredis loop, issue 12's Redis baseline: like raw-ioredis.ts (XADD in
 * batches of 500 into N streams, XREADGROUP COUNT 500 per stream, a no-op sink, XACK per batch),
 * but the producer keeps two pipelines in flight and a reader does not wait for its XACK before
 * the next XREADGROUP (the ack's reply is checked when it arrives). Writes go on their own
 * connection, so they never queue behind reads and acks.
 */
import { Redis } from "ioredis";
import { pace, parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const batch = 500;
const inFlight = 2;
const streams = Array.from({ length: args.partitions }, (_, p) => `${args.prefix}:rawp:{${p}}`);
const writer = new Redis(args.redisUrl);
const readers = streams.map(() => new Redis(args.redisUrl));
for (const stream of streams) await writer.xgroup("CREATE", stream, "g", "$", "MKSTREAM");

const payload = Buffer.alloc(args.msgSize, 120);
const meter = startMeter();
const startedAt = Date.now();

/** Sends one pipeline of `count` XADDs starting at message `sent`. */
const send = async (sent: number, count: number) => {
  const pipeline = writer.pipeline();
  for (let i = 0; i < count; i += 1) pipeline.xadd(streams[(sent + i) % streams.length]!, "*", "t", String(Date.now()), "v", payload);
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error !== null) throw error;
};

const produce = async () => {
  const flying = new Set<Promise<void>>();
  for (let sent = 0; sent < args.messages; sent += batch) {
    await pace(sent, args.rate, startedAt);
    if (flying.size >= inFlight) await Promise.race(flying);
    const done: Promise<void> = send(sent, Math.min(batch, args.messages - sent)).finally(() => flying.delete(done));
    flying.add(done);
  }
  await Promise.all(flying);
};

let consumed = 0;
const consume = async (stream: string, reader: Redis) => {
  const share = Math.ceil(args.messages / streams.length);
  const acks: Promise<number>[] = [];
  let mine = 0;
  while (mine < share && consumed < args.messages) {
    const reply = (await reader.xreadgroup("GROUP", "g", "c", "COUNT", batch, "BLOCK", 100, "STREAMS", stream, ">")) as
      | Array<[string, Array<[string, string[]]>]>
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const now = Date.now();
    for (const [, fields] of entries) meter.latency(now - Number(fields[1]));
    // Not awaited here: the next XREADGROUP goes out on the same connection right behind it.
    acks.push(reader.xack(stream, "g", ...entries.map(([id]) => id)));
    mine += entries.length;
    consumed += entries.length;
  }
  await Promise.all(acks);
};

await Promise.all([produce(), ...streams.map((stream, i) => consume(stream, readers[i]!))]);
report(meter.finish(`raw ioredis pipelined, ${args.partitions} stream${args.partitions > 1 ? "s" : ""}`, consumed));
await writer.del(...streams);
writer.disconnect();
for (const reader of readers) reader.disconnect();
