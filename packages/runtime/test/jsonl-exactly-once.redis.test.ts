/**
 * DESIGN I6 with a transactional sink: a jsonl sink with `exactlyOnce: true`, run as a CLI worker
 * on a Redis buffer and SIGKILLed three times mid-run (each time just after the file grew, i.e.
 * around an epoch's commit, before or after its acks), ends with every id exactly once.
 *
 * The source runs in a process of its own (`--vertices in`), so the kills never restart the
 * generator; the sink worker is restarted with the same `--replica`, so it re-reads the entries it
 * had read and not acked — among them those of an epoch committed to the file just before the kill.
 *
 * Without exactlyOnce the same run leaves duplicates (a plain jsonl sink writes before the epoch
 * commits): `WEIR_TEST_JSONL_EXACTLY_ONCE=false npx vitest run <this file>` shows it (and fails).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const exactlyOnce = process.env["WEIR_TEST_JSONL_EXACTLY_ONCE"] !== "false";

interface Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  stderr(): string;
}

describe.skipIf(url === undefined)("exactly-once jsonl through worker crashes", () => {
  const redisUrl = url as string;
  let dir: string;
  const prefixes: string[] = [];
  const running = new Set<Worker>();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-jsonl-eo-redis-"));
  });
  afterEach(() => {
    for (const worker of running) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        console.error(`a worker was still running after the test; its stderr:\n${worker.stderr().slice(-3000)}`);
        worker.child.kill("SIGKILL");
      }
    }
    running.clear();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });

  function startWorker(file: string, vertices: string, replica: string): Worker {
    const child = spawn(process.execPath, [bin, "run", file, "--json", "--log-level", "info", "--vertices", vertices, "--replica", replica], { cwd: repoRoot });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal, stderr })),
    );
    const worker = { child, exited, stderr: () => stderr };
    running.add(worker);
    return worker;
  }

  async function lineCount(file: string): Promise<number> {
    const text = await readFile(file, "utf8").catch(() => "");
    let count = 0;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count += 1;
    return count;
  }

  it(
    `acceptance: a sink worker SIGKILLed 3 times mid-run and restarted leaves every id exactly once (exactlyOnce: ${exactlyOnce})`,
    async () => {
      const total = 5_000;
      const prefix = uniquePrefix("eo");
      prefixes.push(prefix);
      const out = path.join(dir, `${prefix}.jsonl`);
      const specFile = path.join(dir, `${prefix}.yaml`);
      await writeFile(
        specFile,
        [
          "apiVersion: weir.dev/v1",
          "kind: Pipeline",
          "metadata: { name: eo }",
          "spec:",
          `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix} }`,
          "  limits: { readBatchSize: 50, readTimeout: 10ms }",
          "  vertices:",
          `    - { name: in, source: { generator: { total: ${total}, rpu: 1000, duration: 1s, msgSize: 24, keyCount: 12 } } }`,
          `    - { name: out, partitions: 3, commit: aligned, sink: { jsonl: { path: "${out}", exactlyOnce: ${exactlyOnce} } } }`,
          "  edges:",
          "    - { from: in, to: out }",
          "",
        ].join("\n"),
      );

      let sink = startWorker(specFile, "out", "w");
      const sinks = [sink];
      const source = startWorker(specFile, "in", "src");
      const kills: Array<{ atLines: number; stderr: string }> = [];
      for (const threshold of [1_000, 2_200, 3_400]) {
        // Poll tightly and kill as soon as the file grew past the threshold: that is just after an
        // epoch's append, while its commit record and its acks may still be under way.
        while ((await lineCount(out)) < threshold) {
          if (sink.child.exitCode !== null) throw new Error(`the sink worker exited before the kill at ${threshold} lines:\n${sink.stderr().slice(-2000)}`);
          await sleep(2);
        }
        sink.child.kill("SIGKILL");
        const killed = await sink.exited;
        expect(killed.signal).toBe("SIGKILL");
        kills.push({ atLines: await lineCount(out), stderr: killed.stderr });
        sink = startWorker(specFile, "out", "w");
        sinks.push(sink);
      }
      const [sourceResult, sinkResult] = await Promise.all([source.exited, sink.exited]);
      expect(sourceResult.code, sourceResult.stderr).toBe(0);
      expect(sinkResult.code, sinkResult.stderr).toBe(0);

      const text = await readFile(out, "utf8");
      expect(text.endsWith("\n")).toBe(true); // no partial line
      const ids = text
        .split("\n")
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string }).id);
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      const duplicates = [...counts].filter(([, count]) => count > 1);
      if (duplicates.length > 0) console.warn(`${duplicates.length} ids written more than once (exactlyOnce: ${exactlyOnce}), e.g. ${duplicates.slice(0, 3).map(([id]) => id).join(", ")}`);
      expect(duplicates).toEqual([]);
      expect(counts.size).toBe(total);
      expect(ids).toHaveLength(total);
      const expected = Array.from({ length: total }, (_, seq) => `in-0-${seq}`);
      expect(expected.filter((id) => !counts.has(id))).toEqual([]);
      expect(kills.map((kill) => kill.atLines).every((lines) => lines < total)).toBe(true);
      // Which crash window each restart met (informative: where a kill lands is up to timing).
      const restarts = sinks.slice(1).map((worker) => ({
        skippedCommitted: worker.stderr().includes("skipped lines the file already holds"),
        cutUncommitted: worker.stderr().includes("removing the end of the file that no commit completed"),
      }));
      console.info(`restarts after a kill: ${JSON.stringify(restarts)}`);
    },
    120_000,
  );
});
