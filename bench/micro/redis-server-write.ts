/**
 * The Redis server's CPU per message for the framed buffer's write alone (issue 12, session 12): frames of
 * `--frame` fresh ids written to `--partitions` partitions, `--inflight` writes in flight, then read and acked
 * (`--max` per read); `INFO cpu` (user + sys) and `INFO commandstats` deltas ÷ messages per phase. No actors,
 * generator or sink: a change to a script shows without the pipeline's noise around it.
 *
 *   node micro/redis-server-write.js --redis-url redis://127.0.0.1:<port> [--messages 500000] [--frame 125]
 *     [--partitions 4] [--inflight 4] [--max 500] [--dedup-window 600000] [--stats]
 */
import type { Message } from "@weir/actors";
import { RedisStreamBuffer } from "@weir/runtime";
import { Redis } from "ioredis";
import { arg, redisUrl } from "./micro-args.js";

const url = redisUrl();
const total = Number(arg("messages", "500000"));
const frame = Number(arg("frame", "125"));
const partitions = Number(arg("partitions", "4"));
const inflight = Number(arg("inflight", "4"));
const max = Number(arg("max", "500"));
const dedupWindowMs = Number(arg("dedup-window", "600000"));
const stats = process.argv.includes("--stats");

const probe = new Redis(url);
const serverCpu = async (): Promise<number> => {
  const info = await probe.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
};
const commandStats = async (): Promise<Map<string, number>> => {
  const info = await probe.info("commandstats");
  const usec = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+):calls=\d+,usec=(\d+)/gm)) usec.set(match[1] as string, Number(match[2]));
  return usec;
};
/** Commands' µs per message between two `commandStats` readings, largest first. */
const perMessage = (before: Map<string, number>, after: Map<string, number>): Record<string, number> => {
  const rows = [...after].map(([name, usec]) => [name, (usec - (before.get(name) ?? 0)) / total] as const).filter(([, v]) => v >= 0.005);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]).map(([name, v]) => [name, Number(v.toFixed(3))]));
};

const value = new Uint8Array(96).fill(32);
const buffer = new RedisStreamBuffer({
  name: `micro.rsw${process.pid}`,
  partitions,
  maxLength: total * 2,
  usageLimit: 1,
  upstreams: [],
  connection: { url },
  framed: true,
  dedupWindowMs,
});

let next = 0;
const writer = async (): Promise<void> => {
  while (next < total) {
    const from = next;
    next = Math.min(total, next + frame);
    const batch: Message[] = [];
    for (let i = from; i < next; i++) batch.push({ id: `in-0-${i}`, keys: [], headers: {}, eventTime: 1_700_000_000_000, value });
    await buffer.write((from / frame) % partitions, batch);
  }
};
const reader = async (partition: number): Promise<void> => {
  for (;;) {
    const { entries } = await buffer.read(partition, { consumer: "c", max, timeoutMs: 0 });
    if (entries.length === 0) return;
    await buffer.ack(partition, entries.map((entry) => entry.offset));
  }
};

const cpu0 = await serverCpu();
const stats0 = stats ? await commandStats() : new Map<string, number>();
await Promise.all(Array.from({ length: inflight }, writer));
const cpu1 = await serverCpu();
const stats1 = stats ? await commandStats() : new Map<string, number>();
await Promise.all(Array.from({ length: partitions }, (_, p) => reader(p)));
const cpu2 = await serverCpu();
const stats2 = stats ? await commandStats() : new Map<string, number>();
console.log(
  JSON.stringify({
    scenario: "framed write, then read + ack: server CPU",
    messages: total,
    frame,
    partitions,
    dedupWindowMs,
    writeServerMicrosPerMsg: Number((((cpu1 - cpu0) * 1e6) / total).toFixed(3)),
    readAckServerMicrosPerMsg: Number((((cpu2 - cpu1) * 1e6) / total).toFixed(3)),
    ...(stats ? { write: perMessage(stats0, stats1), readAck: perMessage(stats1, stats2) } : {}),
  }),
);
await buffer.close();
probe.disconnect();
