import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";
import { ensureBuilt, weirBin, repoRoot } from "./support/weir-cli.js";

const url = redisTestUrl();
const killerUdf = fileURLToPath(new URL("./fixtures/killer-udf.mjs", import.meta.url));
const TOTAL = 120;
const POISON_ID = "in-0-57";

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Lines of a jsonl file a killed process may have cut short: whole lines only. */
async function jsonLines(file: string): Promise<Array<{ id: string; headers?: Record<string, string> }>> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line) as { id: string; headers?: Record<string, string> }];
    } catch {
      return [];
    }
  });
}

describe.skipIf(url === undefined)("a poison message that kills its worker (maxDeliveries, issue #10 item 5)", () => {
  const redisUrl = url as string;
  const prefixes: string[] = [];
  let dir: string;
  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-poison-delivery-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redisUrl, `${prefix}*`);
  });

  async function writeSpec(name: string): Promise<{ file: string; out: string; dead: string }> {
    const prefix = uniquePrefix("pd");
    prefixes.push(prefix);
    const work = path.join(dir, name);
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    await copyFile(killerUdf, path.join(work, "killer-udf.mjs"));
    const file = path.join(work, "spec.yaml");
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: poisoned }",
        "spec:",
        `  buffer: { type: redis, url: "${redisUrl}", keyPrefix: ${prefix}, claimIdle: 1s }`,
        "  limits: { readBatchSize: 16, readTimeout: 20ms }",
        "  vertices:",
        // Keyed, so a message re-sent by a restarted source lands in the same partition (issue #10
        // item 1 is about keyless ones) and the poison message exists once.
        `    - { name: in, source: { generator: { total: ${TOTAL}, rpu: 1000000, duration: 1s, keyCount: 8 } } }`,
        "    - name: map",
        "      partitions: 2",
        "      udf: { module: { path: ./killer-udf.mjs, export: killer } }",
        "      fallback: { jsonl: { path: ./dead.jsonl } }",
        "    - { name: out, partitions: 2, sink: { jsonl: { path: ./out.jsonl } } }",
        "  edges:",
        "    - { from: in, to: map }",
        "    - { from: map, to: out }",
        "",
      ].join("\n"),
    );
    return { file, out: path.join(work, "out.jsonl"), dead: path.join(work, "dead.jsonl") };
  }

  /** One `weir run` of the same replica, as a supervisor restarts it. */
  function runOnce(file: string, env: Record<string, string>): Promise<Run> {
    const child = spawn(process.execPath, [weirBin, "run", file, "--json", "--replica", "a"], {
      cwd: repoRoot,
      env: { ...process.env, WEIR_TEST_POISON_ID: POISON_ID, ...env },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })));
  }

  it.each([
    { variant: "SIGKILL", env: { WEIR_TEST_POISON_MODE: "kill" } as Record<string, string> },
    { variant: "heap exhausted", env: { WEIR_TEST_POISON_MODE: "heap", NODE_OPTIONS: "--max-old-space-size=64" } as Record<string, string> },
  ])(
    "$variant: after maxDeliveries deaths the message goes to the fallback with the reason, and every other message reaches the sink",
    async ({ variant, env }) => {
      const { file, out, dead } = await writeSpec(variant.replace(/\W/g, "-"));
      const runs: Run[] = [];
      // A supervisor's restart loop, bounded: without the limit the worker dies on every start.
      while (runs.length < 8) {
        const run = await runOnce(file, env);
        runs.push(run);
        if (run.code === 0) break;
      }
      const last = runs[runs.length - 1]!;
      expect(last.code, last.stderr.slice(-3000)).toBe(0);
      // maxDeliveries 3: three deaths, then the run that routes it and completes.
      expect(runs.map((run) => run.code === 0)).toEqual([false, false, false, true]);
      if (variant === "heap exhausted") expect(runs[0]!.stderr).toMatch(/heap out of memory/i);

      const fallback = await jsonLines(dead);
      expect(fallback.map((line) => line.id)).toEqual([POISON_ID]);
      expect(fallback[0]!.headers?.["x-weir-fallback-reason"]).toMatch(/^its worker died 3 times while processing it/);
      const delivered = new Set((await jsonLines(out)).map((line) => line.id));
      const expected = Array.from({ length: TOTAL }, (_, seq) => `in-0-${seq}`).filter((id) => id !== POISON_ID);
      expect([...delivered].sort()).toEqual(expected.sort());
      // The worker that found entries delivered more than once said which, in one line per vertex.
      const found = last.stderr.split("\n").filter((line) => line.includes("delivered more than once") && line.includes('"vertex":"map"'));
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/×3/);
    },
    240_000,
  );
});
