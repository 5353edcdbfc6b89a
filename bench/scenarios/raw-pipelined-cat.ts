/**
 * Issue 12's two-hop Redis baseline, for gen → cat → sink: raw-pipelined.ts with a hand-written
 * `cat` between two sets of N streams. The producer keeps two XADD pipelines in flight into the
 * first streams; per stream a cat loop reads (XREADGROUP COUNT 500), writes the batch to its
 * stream of the second hop in one pipeline on its own connection, and acks the first hop without
 * awaiting the XACK; a sink loop per second-hop stream reads, records latency and acks likewise.
 * The cat awaits its forward before acking, as any at-least-once forwarder must.
 */
import { Redis } from "ioredis";
import { pace, parseScenarioArgs, report, startMeter } from "./measure.js";

const args = parseScenarioArgs(process.argv.slice(2));
const batch = 500;
const inFlight = 2;
type Entries = Array<[string, string[]]>;

const hop = (name: string) => Array.from({ length: args.partitions }, (_, p) => `${args.prefix}:${name}:{${p}}`);
const first = hop("rawcat-in");
const second = hop("rawcat-out");
const producer = new Redis(args.redisUrl);
const connections: Redis[] = [producer];
const connect = () => {
  const client = new Redis(args.redisUrl);
  connections.push(client);
  return client;
};
for (const stream of [...first, ...second]) await producer.xgroup("CREATE", stream, "g", "$", "MKSTREAM");

const payload = Buffer.alloc(args.msgSize, 120);
const meter = startMeter();
const startedAt = Date.now();

const checked = async (pipeline: ReturnType<Redis["pipeline"]>) => {
  for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
};

const produce = async () => {
  const flying = new Set<Promise<void>>();
  for (let sent = 0; sent < args.messages; sent += batch) {
    await pace(sent, args.rate, startedAt);
    if (flying.size >= inFlight) await Promise.race(flying);
    const pipeline = producer.pipeline();
    const count = Math.min(batch, args.messages - sent);
    for (let i = 0; i < count; i += 1) pipeline.xadd(first[(sent + i) % first.length]!, "*", "t", String(Date.now()), "v", payload);
    const done: Promise<void> = checked(pipeline).finally(() => flying.delete(done));
    flying.add(done);
  }
  await Promise.all(flying);
};

/** Reads `stream` until `share` entries were handled; `handle` runs per batch before the (unawaited) ack. */
const drain = async (stream: string, share: number, handle: (entries: Entries) => Promise<void> | void) => {
  const reader = connect();
  const acks: Promise<number>[] = [];
  for (let seen = 0; seen < share; ) {
    const reply = (await reader.xreadgroup("GROUP", "g", "c", "COUNT", batch, "BLOCK", 100, "STREAMS", stream, ">")) as Array<[string, Entries]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    await handle(entries);
    acks.push(reader.xack(stream, "g", ...entries.map(([id]) => id)));
    seen += entries.length;
  }
  await Promise.all(acks);
};

/** How many of the messages stream `index` of a hop receives (the producer deals them round-robin). */
const shareOf = (index: number) => Math.floor(args.messages / args.partitions) + (index < args.messages % args.partitions ? 1 : 0);

const cat = (index: number) => {
  const writer = connect();
  return drain(first[index]!, shareOf(index), async (entries) => {
    const pipeline = writer.pipeline();
    for (const [, fields] of entries) pipeline.xadd(second[index]!, "*", ...fields);
    await checked(pipeline);
  });
};

let consumed = 0;
const sink = (index: number) =>
  drain(second[index]!, shareOf(index), (entries) => {
    const now = Date.now();
    for (const [, fields] of entries) meter.latency(now - Number(fields[1]));
    consumed += entries.length;
  });

const indexes = first.map((_, index) => index);
await Promise.all([produce(), ...indexes.map(cat), ...indexes.map(sink)]);
report(meter.finish(`raw ioredis pipelined, two hops, ${args.partitions} stream${args.partitions > 1 ? "s" : ""} each`, consumed));
await producer.del(...first, ...second);
for (const client of connections) client.disconnect();
