/**
 * The Redis buffer's client CPU per message on the framed path alone (issue 12): frames are
 * written first (`writeCpuMicrosPerMsg`), then read (`max` messages per read) and acked per read
 * (`cpuMicrosPerMsg`), each phase measured apart (`process.cpuUsage()` µs per message). No actors, generator or sink, so a change to
 * the buffer's read/ack path shows without the pipeline's noise around it.
 *
 *   node micro/framed-read-ack.js --redis-url redis://127.0.0.1:<port> [--messages 200000] [--frame 125] [--max 500]
 */
import type { Message } from "@weir/actors";
import { RedisStreamBuffer } from "@weir/runtime";
import { arg, redisUrl } from "./micro-args.js";

const url = redisUrl();
const total = Number(arg("messages", "200000"));
const frame = Number(arg("frame", "125"));
const max = Number(arg("max", "500"));

const value = new Uint8Array(96).fill(32);
const writeCpu = process.cpuUsage();
const buffer = new RedisStreamBuffer({
  name: `micro.fra${process.pid}`,
  partitions: 1,
  maxLength: total * 2,
  usageLimit: 1,
  upstreams: [],
  connection: { url },
  framed: true,
  dedupWindowMs: 0,
});
for (let sent = 0; sent < total; sent += frame) {
  const batch: Message[] = [];
  for (let i = sent; i < Math.min(total, sent + frame); i++) batch.push({ id: `m-${i}`, keys: [], headers: {}, eventTime: 1_700_000_000_000, value });
  await buffer.write(0, batch);
}
const written = process.cpuUsage(writeCpu);
const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
let done = 0;
while (done < total) {
  const { entries } = await buffer.read(0, { consumer: "c", max, timeoutMs: 0 });
  if (entries.length === 0) break;
  const offsets = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) offsets[i] = entries[i]!.offset;
  done += await buffer.ack(0, offsets);
}
const used = process.cpuUsage(cpu);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ scenario: "framed read + ack", messages: done, frame, max, seconds, cpuMicrosPerMsg: (used.user + used.system) / done, writeCpuMicrosPerMsg: (written.user + written.system) / total }));
await buffer.close();
