/**
 * The fault suite's harness: seeded schedules, specs, worker processes, the figures of a trial.
 *
 * Every trial appends one row of figures to the results file ({@link resultsFile}); faults/run.ts
 * prints them as the final table and fails the run when a row breaks a promise of DESIGN §2.2.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createRandom, type SeededRandom } from "@weir/testkit";
import { afterAll, afterEach, beforeAll } from "vitest";
import { deleteKeys, uniquePrefix } from "../../packages/runtime/test/support/redis-server.js";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
export const faultSink = fileURLToPath(new URL("../fixtures/fault-sink.mjs", import.meta.url));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where trials write their figures (one JSON line each). faults/run.ts sets it and reads it back. */
export const resultsFile = process.env["WEIR_FAULTS_RESULTS"] ?? path.join(tmpdir(), "weir-faults-results.jsonl");

/** The base seed: a run is reproducible with WEIR_FAULTS_SEED=<the seed printed in the table>. */
export const baseSeed = Number(process.env["WEIR_FAULTS_SEED"] ?? "20240611");

/** The testkit's seeded generator (mulberry32), plus `pick`: the fault points of a trial. */
export function seededRandom(seed: number): SeededRandom & { pick<T>(items: readonly T[]): T } {
  const random = createRandom(seed);
  return { ...random, pick: (items) => items[Math.floor(random.next() * items.length)] as never };
}

/** One trial's figures. */
export interface TrialFigures {
  readonly scenario: string;
  readonly trial: string;
  readonly seed: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly lost: number;
  /** Deliveries beyond the first of each id, as the sink saw them (at-least-once redelivery). */
  readonly duplicatedBeforeDedup: number;
  /** Ids more than once in the idempotent output. */
  readonly duplicatedAfterDedup: number;
  readonly protocolErrors: number;
  readonly maxStallMs: number;
  /** DESIGN promises exactly-once output here (I6): duplicatedAfterDedup must be 0. */
  readonly exactlyOnce: boolean;
  /** Loss the design accepts and Weir reported (Redis without persistence lost its data): not a failure. */
  readonly lossExpected?: boolean;
  readonly note?: string;
}

export function recordFigures(figures: TrialFigures): void {
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  appendFileSync(resultsFile, `${JSON.stringify(figures)}\n`);
}

export interface SpecOptions {
  readonly dir: string;
  readonly name: string;
  readonly prefix: string;
  readonly redisUrl: string;
  readonly total: number;
  readonly rpu: number;
  readonly partitions?: number;
  readonly claimIdle?: string;
  readonly commit?: "aligned" | "partition";
  readonly limits?: string;
  /** A map vertex between source and sink: `{ path, export }` of a module UDF, or a builtin. */
  readonly udf?: string;
  /** More fields of the map vertex, e.g. `, retryStrategy: { … }`. */
  readonly mapExtra?: string;
  readonly sinkExtra?: string;
  /** Distinct keys of the generator's messages (default 64); 0 sends them without keys. */
  readonly keyCount?: number;
}

/** A bounded generator → (udf →) a sink recording through faults/fixtures/fault-sink.mjs. */
export async function writeSpec(options: SpecOptions): Promise<string> {
  const file = path.join(options.dir, `${options.prefix}.yaml`);
  const partitions = options.partitions ?? 4;
  const commit = options.commit === undefined ? "" : `, commit: ${options.commit}`;
  const lines = [
    "apiVersion: weir.dev/v1",
    "kind: Pipeline",
    `metadata: { name: ${options.name} }`,
    "spec:",
    `  buffer: { type: redis, url: "${options.redisUrl}", keyPrefix: ${options.prefix}, claimIdle: ${options.claimIdle ?? "1s"} }`,
    `  limits: { ${options.limits ?? "readBatchSize: 50, readTimeout: 20ms"} }`,
    "  vertices:",
    `    - { name: in, source: { generator: { total: ${options.total}, rpu: ${options.rpu}, duration: 1s, keyCount: ${options.keyCount ?? 64} } } }`,
    ...(options.udf === undefined ? [] : [`    - { name: map, partitions: ${partitions}, udf: ${options.udf}${options.mapExtra ?? ""} }`]),
    `    - { name: out, partitions: ${partitions}${commit}, sink: { module: { path: "${faultSink}" }${options.sinkExtra ?? ""} } }`,
    "  edges:",
    ...(options.udf === undefined ? ["    - { from: in, to: out }"] : ["    - { from: in, to: map }", "    - { from: map, to: out }"]),
    "",
  ];
  await writeFile(file, lines.join("\n"));
  return file;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Worker {
  readonly child: ChildProcess;
  readonly label: string;
  readonly exited: Promise<Exit>;
  stderr(): string;
}

const live = new Set<Worker>();

/** What every scenario file shares: a temp dir for specs, a client on the recording Redis, fresh key prefixes. */
export interface ScenarioFixture {
  /** The suite's Redis: the fault sink records there, and most scenarios buffer there too. */
  readonly url: string;
  readonly dir: string;
  readonly redis: Redis;
  /** A key prefix no other trial uses; its keys are deleted after the file. */
  prefix(label: string): string;
}

/**
 * Registers the hooks of a scenario file (call it inside its `describe`): the temp dir and the
 * Redis client before the file, leftover workers killed after each trial (their stderr tails
 * printed), keys and files removed after the file.
 */
export function scenarioFixture(url: string | undefined, label: string): ScenarioFixture {
  const prefixes: string[] = [];
  let dir: string | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), `weir-faults-${label}-`));
    redis = new Redis(url as string);
  });
  afterEach(() => {
    const left = killLeftovers();
    if (left.length > 0) console.error(`workers still running after the trial:\n${left.join("\n")}`);
  });
  afterAll(async () => {
    redis?.disconnect();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(url as string, `${prefix}*`);
  });
  return {
    url: url as string,
    get dir() {
      if (dir === undefined) throw new Error("scenarioFixture: dir is ready from beforeAll on");
      return dir;
    },
    get redis() {
      if (redis === undefined) throw new Error("scenarioFixture: redis is ready from beforeAll on");
      return redis;
    },
    prefix(name) {
      const prefix = uniquePrefix(name);
      prefixes.push(prefix);
      return prefix;
    },
  };
}

/** `weir run <file> --json` with extra args; the sink records under `prefix` in `sinkUrl`. */
export function startWorker(label: string, args: readonly string[], env: Record<string, string>): Worker {
  const child = spawn(process.execPath, [bin, "run", ...args, "--json", "--allow-modules-outside", "--log-level", process.env["WEIR_FAULTS_LOG_LEVEL"] ?? "info"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-200_000)));
  const exited = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  const worker: Worker = { child, label, exited, stderr: () => stderr };
  live.add(worker);
  void exited.then(() => live.delete(worker));
  return worker;
}

/** SIGKILLs every worker still running (after a failed or timed-out trial); returns their labels and stderr tails. */
export function killLeftovers(): string[] {
  const left: string[] = [];
  for (const worker of live) {
    left.push(`${worker.label}: ${worker.stderr().slice(-2000)}`);
    worker.child.kill("SIGKILL");
  }
  live.clear();
  return left;
}

/** Protocol errors in the `--json` summaries of the workers that finished. */
export function protocolErrorsOf(exits: readonly Exit[]): number {
  let total = 0;
  for (const exit of exits) {
    const line = exit.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    if (line === undefined) continue;
    try {
      const summary = JSON.parse(line) as { vertices?: Record<string, { protocolErrors?: number }> };
      for (const vertex of Object.values(summary.vertices ?? {})) total += vertex.protocolErrors ?? 0;
    } catch {
      // not a summary
    }
  }
  return total;
}

/** The generator's ids for `total` messages. */
export const expectedIds = (total: number) => Array.from({ length: total }, (_, i) => `in-0-${i}`);

/** What the sink recorded under `prefix`, as figures. */
export async function outputFigures(redis: Redis, prefix: string, total: number) {
  const output = new Set(await redis.smembers(`${prefix}:output`));
  const counts = await redis.hgetall(`${prefix}:deliveries`);
  const expected = expectedIds(total);
  const lostIds = expected.filter((id) => !output.has(id));
  let extra = 0;
  for (const id of output) if (!id.startsWith("in-0-")) extra += 1;
  let before = 0;
  for (const n of Object.values(counts)) before += Math.max(0, Number(n) - 1);
  return { messagesOut: output.size, lost: lostIds.length, lostIds, duplicatedBeforeDedup: before, duplicatedAfterDedup: extra };
}

/**
 * The longest time the sink's progress counter stood still before `total` deliveries, sampled
 * every 25 ms from the first delivery on.
 */
export function watchStalls(redis: Redis, prefix: string, total: number): { stop(): Promise<number> } {
  let stopped = false;
  let max = 0;
  const loop = (async () => {
    let last = -1;
    let since = 0;
    while (!stopped) {
      const count = Number((await redis.get(`${prefix}:count`).catch(() => null)) ?? 0);
      const now = Date.now();
      if (count !== last || count === 0 || count >= total) {
        last = count;
        since = now;
      } else {
        max = Math.max(max, now - since);
      }
      await sleep(25);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return max;
    },
  };
}

/** Waits until `predicate` holds, polling; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Entries of the sink vertex's partitions that `consumer` holds pending. */
export async function pendingOf(redis: Redis, prefix: string, pipeline: string, vertex: string, consumer: string, partitions = 4): Promise<number> {
  let pending = 0;
  for (let p = 0; p < partitions; p += 1) {
    const summary = (await redis.xpending(`${prefix}:{${pipeline}.${vertex}.${p}}`, `${pipeline}.${vertex}`).catch(() => [0, null, null, null])) as [
      number,
      string | null,
      string | null,
      Array<[string, string]> | null,
    ];
    pending += Number((summary[3] ?? []).find(([name]) => name === consumer)?.[1] ?? 0);
  }
  return pending;
}
