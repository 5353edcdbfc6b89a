/**
 * What `weir run --ui` costs a run's throughput while a page is open (issue #14: less than 10 %).
 *
 *   pnpm build && node --import tsx bench/dashboard-overhead.ts [--messages 200000] [--rounds 5] [--buffer redis|memory]
 *
 * Runs the built CLI on the demo's shape (generator → cat ×4 → blackhole ×4; on a private
 * redis-server by default, each run on fresh keys),
 * alternating round by round a plain run and a `--ui=0` run whose dashboard is watched from the
 * moment it is up by a client that reads the page's stream (`/api/machines`, `/api/snapshot`, then
 * every `/api/events` frame), as an open page does. A real browser is left out on purpose: on a
 * small machine its rendering would compete with the run for the same cores, which measures the
 * machine rather than Weir. Prints the median throughput (messages ÷ the summary's durationMs)
 * and CPU time of each, and the overhead.
 *
 * Redis by default: there the run waits on the network and the dashboard is served in between, as
 * in production. On the memory buffer a run at full speed hardly ever yields to I/O (its steps
 * chain through promises), so the page gets its frames only when the run pauses — `--buffer memory`
 * then measures the sampling and the event ring, not a page being fed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startRedisServer } from "../packages/runtime/test/support/redis-server.js";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "200000" }, rounds: { type: "string", default: "5" }, buffer: { type: "string", default: "redis" } },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
const redis = values.buffer === "redis" ? await startRedisServer() : undefined;
const cli = fileURLToPath(new URL("../packages/runtime/bin/weir.js", import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "weir-bench-ui-"));
const specFile = (run: number) => path.join(dir, `bench-${run}.yaml`);
const cpuFile = path.join(dir, "cpu.json");
const cpuPreload = path.join(dir, "cpu-at-exit.mjs");
writeFileSync(cpuPreload, `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(${JSON.stringify(cpuFile)}, JSON.stringify(process.cpuUsage())));\n`);
// A bounded run on Redis happens once per set of keys: each run gets its own prefix.
const writeSpec = (run: number) =>
  writeFileSync(
    specFile(run),
    `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: bench }
spec:
  buffer: ${redis === undefined ? "{ type: memory }" : `{ type: redis, url: "${redis.url}", keyPrefix: b${run} }`}
  limits: { readBatchSize: 500, readTimeout: 100ms }
  vertices:
    - { name: in, source: { generator: { total: ${messages}, rpu: ${messages}, duration: 1s, msgSize: 64, keyCount: 16 } } }
    - { name: cat, partitions: 4, udf: { builtin: { name: cat } } }
    - { name: out, partitions: 4, sink: { blackhole: {} } }
  edges:
    - { from: in, to: cat }
    - { from: cat, to: out }
`,
  );

/** Reads the dashboard as a page does, until the server goes away; returns the frames read. */
function watch(base: string): Promise<number> {
  const get = (pathname: string) => new Promise<void>((resolve) => request(`${base}${pathname}`, (res) => res.resume().on("end", resolve).on("error", resolve)).on("error", () => resolve()).end());
  return Promise.all([get("api/machines"), get("api/snapshot")]).then(
    () =>
      new Promise<number>((resolve) => {
        let frames = 0;
        const req = request(`${base}api/events`, (res) => {
          res.on("data", (chunk: Buffer) => (frames += chunk.toString().split("event: snapshot").length - 1));
          res.on("end", () => resolve(frames));
          res.on("error", () => resolve(frames));
        });
        req.on("error", () => resolve(frames));
        req.end();
      }),
  );
}

let runs = 0;
async function runOnce(ui: boolean): Promise<{ durationMs: number; cpuMs: number; frames: number }> {
  const run = runs++;
  writeSpec(run);
  const child = spawn(process.execPath, ["--import", pathToFileURL(cpuPreload).href, cli, "run", specFile(run), "--json", ...(ui ? ["--ui=0"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let watching: Promise<number> | undefined;
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    const url = /dashboard at (http:\/\/\S+\/)/.exec(err)?.[1];
    if (url !== undefined && watching === undefined) watching = watch(url);
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`run failed (${code}): ${err}`);
  const summary = JSON.parse(out.trim().split("\n").at(-1)!) as { durationMs: number };
  const usage = JSON.parse(readFileSync(cpuFile, "utf8")) as { user: number; system: number };
  return { durationMs: summary.durationMs, cpuMs: Math.round((usage.user + usage.system) / 1000), frames: (await watching) ?? 0 };
}

const results = { plain: [] as Array<{ durationMs: number; cpuMs: number }>, ui: [] as Array<{ durationMs: number; cpuMs: number; frames: number }> };
for (let round = 0; round < rounds; round++) {
  results.plain.push(await runOnce(false));
  results.ui.push(await runOnce(true));
}
rmSync(dir, { recursive: true, force: true });
await redis?.stop();

const median = (list: readonly number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const rate = (list: ReadonlyArray<{ durationMs: number }>) => median(list.map((run) => messages / (run.durationMs / 1000)));
const plainRate = rate(results.plain);
const uiRate = rate(results.ui);
console.log(`${messages} messages, ${rounds} rounds, ${values.buffer} buffer, node ${process.version}; medians`);
console.log(`plain              ${Math.round(plainRate).toLocaleString("en")} msg/s  cpu ${median(results.plain.map((r) => r.cpuMs))} ms  runs: ${results.plain.map((r) => r.durationMs).join(", ")} ms`);
console.log(`--ui=0, page open  ${Math.round(uiRate).toLocaleString("en")} msg/s  cpu ${median(results.ui.map((r) => r.cpuMs))} ms  runs: ${results.ui.map((r) => r.durationMs).join(", ")} ms  frames read: ${results.ui.map((r) => r.frames).join(", ")}`);
console.log(`throughput with the dashboard open: ${(((uiRate - plainRate) / plainRate) * 100).toFixed(1)} % against the plain run`);
