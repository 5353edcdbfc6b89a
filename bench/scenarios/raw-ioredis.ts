/**
 * The raw limit: a hand-written ioredis loop — pipelined XADD in batches of 500 into N streams,
 * XREADGROUP COUNT 500, a no-op sink, one XACK per batch. What a user would write by hand.
 */
import { Redis } from "ioredis";
import { pace, parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const batch = 500;
const streams = Array.from({ length: args.partitions }, (_, p) => `${args.prefix}:raw:{${p}}`);
const writer = new Redis(args.redisUrl);
const readers = streams.map(() => new Redis(args.redisUrl));
for (const stream of streams) await writer.xgroup("CREATE", stream, "g", "$", "MKSTREAM");

const payload = Buffer.alloc(args.msgSize, 120);
const meter = startMeter();
const startedAt = Date.now();

const produce = async () => {
  for (let sent = 0; sent < args.messages; sent += batch) {
    await pace(sent, args.rate, startedAt);
    const pipeline = writer.pipeline();
    const count = Math.min(batch, args.messages - sent);
    for (let i = 0; i < count; i += 1) {
      pipeline.xadd(streams[(sent + i) % streams.length]!, "*", "t", String(Date.now()), "v", payload);
    }
    await pipeline.exec();
  }
};

let consumed = 0;
const consume = async (stream: string, reader: Redis) => {
  const share = Math.ceil(args.messages / streams.length);
  let mine = 0;
  while (mine < share && consumed < args.messages) {
    const reply = (await reader.xreadgroup("GROUP", "g", "c", "COUNT", batch, "BLOCK", 100, "STREAMS", stream, ">")) as
      | Array<[string, Array<[string, string[]]>]>
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    const now = Date.now();
    for (const [, fields] of entries) meter.latency(now - Number(fields[1]));
    await reader.xack(stream, "g", ...entries.map(([id]) => id));
    mine += entries.length;
    consumed += entries.length;
  }
};

await Promise.all([produce(), ...streams.map((stream, i) => consume(stream, readers[i]!))]);
report(meter.finish(`raw ioredis, ${args.partitions} stream${args.partitions > 1 ? "s" : ""}`, consumed));
await writer.del(...streams);
writer.disconnect();
for (const reader of readers) reader.disconnect();
