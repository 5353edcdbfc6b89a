/**
 * What a vertex's partition count costs (#10 item 13): `generator → sink` with 16, 64 and 256
 * sink partitions (the spec's maximum), on the memory buffer and on a private redis-server, one run each (the
 * machine is shared: keep it short). Prints wall time, CPU µs per message and peak RSS per run,
 * as measured inside the scenario process (scenarios/weir.ts), and a JSON line per run.
 *
 * ```sh
 * pnpm build && node --import tsx bench/partitions.ts [--messages 5000] [--partitions 16,64,256] [--buffers memory,redis]
 * ```
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startRedisServer, type RedisServer } from "../packages/runtime/test/support/redis-server.js";
import type { ScenarioResult } from "./scenarios/measure.js";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : fallback);
const messages = Number(option("messages", "5000"));
// 256 is the spec's maximum (it was set from this bench's runs up to 1024, see bench/README.md).
const partitionCounts = option("partitions", "16,64,256").split(",").map(Number);
const buffers = option("buffers", "memory,redis").split(",");
const here = path.dirname(fileURLToPath(import.meta.url));

/** One scenario run in its own process (tsx: no compile step for a one-off run). */
function run(buffer: string, partitions: number, redisUrl: string): Promise<ScenarioResult> {
  const args = ["--import", "tsx", path.join(here, "scenarios/weir.ts"), "--buffer", buffer, "--partitions", String(partitions), "--messages", String(messages), "--redis-url", redisUrl];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: here, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${buffer} × ${partitions} exited with ${code}`));
      resolve(JSON.parse(out.trim().split("\n").pop()!) as ScenarioResult);
    });
  });
}

let redis: RedisServer | undefined;
try {
  if (buffers.includes("redis")) redis = await startRedisServer();
  const rows: string[] = ["| buffer | partitions | messages | wall s | CPU µs/msg | peak RSS MiB |", "|---|---:|---:|---:|---:|---:|"];
  for (const buffer of buffers) {
    for (const partitions of partitionCounts) {
      const result = await run(buffer, partitions, redis?.url ?? "");
      process.stdout.write(`${JSON.stringify({ buffer, partitions, ...result })}\n`);
      rows.push(`| ${buffer} | ${partitions} | ${messages} | ${result.seconds.toFixed(1)} | ${result.cpuMicrosPerMsg.toFixed(0)} | ${result.peakRssMb.toFixed(0)} |`);
    }
  }
  process.stdout.write(`\n${rows.join("\n")}\n`);
} finally {
  await redis?.stop();
}
