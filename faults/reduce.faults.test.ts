/**
 * Scenario "reduce" (issue #13) — a reduce vertex's workers SIGKILLed several times mid-run and the
 * buffer's Redis restarted once (`appendonly yes, appendfsync always`, same directory): each
 * (keys, window) must appear exactly once downstream with the exact count of an independent
 * reference computed from the source's entries.
 *
 *   redisStream × 2 (known ids, keys, event times) ─▶ cat × 2 ─▶ counts × 4 (fixed 1 s, 50 keys) ─▶ redisStream sink
 *   worker src: in, cat, out            workers a, b: counts (one holds the lease, the other stands by)
 *
 * Every kill hits the lease holder while it holds entries; it is restarted under its `--replica`
 * and stands by (or takes its lease back at once when nobody took it meanwhile). Redis is
 * restarted between two kills, also while the holder holds entries. Everything lives in one
 * private redis-server, so the restart hits the source, the buffers, the window state and the sink.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisTestUrl, startRedisServer, type RedisServer } from "../packages/runtime/test/support/redis-server.js";
import {
  baseSeed, pendingOf, protocolErrorsOf, recordFigures, scenarioFixture, seededRandom, sleep, startWorker, waitFor, type Exit, type Worker,
} from "./support/harness.js";

const url = redisTestUrl();
const PIPELINE = "fred";
const BASE = 1_700_000_000_000;
const MAX_DELAY_MS = 200;
const KEYS = 50;
const REPLICAS = ["a", "b"] as const;
// The lease's ttl. Short, so that the Redis outage often outlasts it: the standby then takes
// over a holder that still runs (the case of two bugs in docs/faults.md "Bugs the scenarios found").
const CLAIM_IDLE = process.env["WEIR_FAULTS_REDUCE_CLAIM_IDLE"] ?? "1s";

interface SourceEntry {
  readonly id: string;
  readonly key: string;
  readonly eventTime: number;
}

/** `total` entries over 2 streams, event times 2.5 ms apart from BASE, each shifted back by up to maxDelay − 1 (seeded). */
function sourceEntries(total: number, rng: ReturnType<typeof seededRandom>): SourceEntry[][] {
  const streams: SourceEntry[][] = [[], []];
  for (let i = 0; i < total; i += 1) {
    const eventTime = BASE + Math.floor(i * 2.5) - rng.int(0, MAX_DELAY_MS - 1);
    streams[i % 2]!.push({ id: `e${i}`, key: `k${i % KEYS}`, eventTime });
  }
  return streams;
}

/** The reference: fixed 1 s windows per key, `"<key>|<start>"` → count. */
function referenceCounts(streams: readonly SourceEntry[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of streams.flat()) {
    const at = `${entry.key}|${Math.floor(entry.eventTime / 1_000) * 1_000}`;
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  return counts;
}

async function fillStreams(redis: Redis, names: readonly string[], streams: readonly SourceEntry[][]): Promise<void> {
  for (const [p, entries] of streams.entries()) {
    for (let i = 0; i < entries.length; i += 500) {
      const batch = redis.pipeline();
      for (const entry of entries.slice(i, i + 500)) {
        batch.xadd(names[p]!, "*", "id", entry.id, "value", JSON.stringify({ id: entry.id }), "keys", JSON.stringify([entry.key]), "eventTime", String(entry.eventTime));
      }
      await batch.exec();
    }
  }
}

async function writeReduceSpec(dir: string, prefix: string, bufferUrl: string, sources: readonly string[], out: string): Promise<string> {
  const file = path.join(dir, `${prefix}.yaml`);
  const lines = [
    "apiVersion: weir.dev/v1",
    "kind: Pipeline",
    `metadata: { name: ${PIPELINE} }`,
    "spec:",
    `  buffer: { type: redis, url: "${bufferUrl}", keyPrefix: ${prefix}, claimIdle: ${CLAIM_IDLE} }`,
    `  watermark: { maxDelay: ${MAX_DELAY_MS} }`,
    "  limits: { readBatchSize: 50, readTimeout: 20ms }",
    "  vertices:",
    // Paced, so that the run lasts long enough for the kills and the restart to land mid-run.
    `    - { name: in, partitions: 2, source: { redisStream: { url: "${bufferUrl}", streams: [${sources.map((s) => `"${s}"`).join(", ")}], endWhenEmpty: true } }, limits: { rateLimit: { max: 700, store: { memory: {} } } } }`,
    "    - { name: cat, partitions: 2, udf: { builtin: { name: cat } } }",
    "    - { name: counts, partitions: 4, udf: { builtin: { name: count }, groupBy: { window: { fixed: { length: 1000 } }, keyed: true } } }",
    `    - { name: out, partitions: 1, sink: { redisStream: { url: "${bufferUrl}", stream: "${out}" } } }`,
    "  edges:",
    "    - { from: in, to: cat }",
    "    - { from: cat, to: counts }",
    "    - { from: counts, to: out }",
    "",
  ];
  await writeFile(file, lines.join("\n"));
  return file;
}

/** What the sink's stream holds: per `"<key>|<start>"` the counts emitted, and entries beyond the first of an id. */
async function outputOf(redis: Redis, stream: string) {
  const emitted = new Map<string, number[]>();
  const seen = new Set<string>();
  let duplicated = 0;
  for (const [, fields] of await redis.xrange(stream, "-", "+")) {
    const byName = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) byName.set(fields[i]!, fields[i + 1]!);
    const id = byName.get("id")!;
    if (seen.has(id)) duplicated += 1;
    seen.add(id);
    const value = JSON.parse(byName.get("value")!) as { keys: string[]; start: number; end: number; count: number };
    const at = `${value.keys[0]}|${value.start}`;
    emitted.set(at, [...(emitted.get(at) ?? []), value.count]);
  }
  return { emitted, duplicated };
}

/** Compares the output with the reference: windows missing, emitted more than once, or with another count. */
function compare(reference: ReadonlyMap<string, number>, emitted: ReadonlyMap<string, number[]>) {
  const missing = [...reference.keys()].filter((at) => !emitted.has(at));
  const twice = [...emitted].filter(([, counts]) => counts.length > 1).map(([at]) => at);
  const wrong = [...emitted].filter(([at, counts]) => counts[0] !== reference.get(at)).map(([at, counts]) => `${at}: ${counts.join("/")} ≠ ${reference.get(at) ?? "none"}`);
  return { missing, twice, wrong };
}

/** The deduped counts in the `--json` summaries of the workers that finished (re-emissions the buffers dropped). */
function dedupedOf(exits: readonly Exit[]): number {
  let total = 0;
  for (const exit of exits) {
    const line = exit.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    if (line === undefined) continue;
    try {
      const summary = JSON.parse(line) as { vertices?: Record<string, { deduped?: number }> };
      for (const vertex of Object.values(summary.vertices ?? {})) total += vertex.deduped ?? 0;
    } catch {
      // not a summary
    }
  }
  return total;
}

/** The longest time the sink's stream stood still before holding `expected` windows, sampled every 25 ms from the first on. */
function watchOutput(redis: Redis, stream: string, expected: number): { stop(): Promise<number> } {
  let stopped = false;
  let max = 0;
  const loop = (async () => {
    let last = -1;
    let since = Date.now();
    while (!stopped) {
      const length = Number(await redis.xlen(stream).catch(() => last));
      const now = Date.now();
      if (length !== last || length === 0 || length >= expected) {
        last = length;
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

describe.skipIf(url === undefined)("reduce workers SIGKILLed and Redis restarted", () => {
  const fixture = scenarioFixture(url, "reduce");
  const trials = Number(process.env["WEIR_FAULTS_REDUCE_TRIALS"] ?? "1");

  it.each(Array.from({ length: trials }, (_, i) => ({ trial: i + 1 })))("reduce.$trial kills of the lease holder and a Redis restart", async ({ trial }) => {
    const seed = baseSeed + 1_300 + trial;
    const rng = seededRandom(seed);
    const total = 8_000;
    const kills = rng.int(3, 4);
    const aof = ["--appendfsync", "always"];
    let server: RedisServer = await startRedisServer({ appendonly: true, args: aof });
    const dir = server.dir;
    const servers: RedisServer[] = [server];
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on("error", () => undefined);
    try {
      const prefix = fixture.prefix(PIPELINE);
      const sources = [`${prefix}:src.0`, `${prefix}:src.1`];
      const out = `${prefix}:out`;
      const streams = sourceEntries(total, rng);
      const reference = referenceCounts(streams);
      await fillStreams(redis, sources, streams);
      const file = await writeReduceSpec(fixture.dir, prefix, server.url, sources, out);
      const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
      const leaseKey = `${prefix}:{${PIPELINE}}:ordered:counts`;

      const finished: Exit[] = [];
      const reducers = new Map<string, Worker>();
      const victims = new Set<Worker>();
      // Like a supervisor: a reduce worker that stops on its own with an error (taken over while
      // Redis was down longer than the lease's ttl) is restarted under its --replica.
      let selfStopped = 0;
      const selfStopReasons: string[] = [];
      const launch = (name: string, label: string) => {
        const worker = startWorker(label, args(name, "counts"), {});
        reducers.set(name, worker);
        void worker.exited.then((exit) => {
          if (exit.code === 0 || victims.has(worker) || reducers.get(name) !== worker) return;
          finished.push(exit);
          selfStopped += 1;
          // Its lease expired, or its commit was refused: another worker took the partitions over.
          if (!/lost the lease|REDUCE_PARTITION_LOST|another worker took the partition over/.test(exit.stderr)) selfStopReasons.push(exit.stderr.slice(-2000));
          launch(name, `${label}'`);
        });
      };
      for (const name of REPLICAS) launch(name, `counts/${name}`);
      const source = startWorker("src", args("src", "in,cat,out"), {});
      const emittedSoFar = async () => Number(await redis.xlen(out).catch(() => 0));
      const expected = reference.size;
      const stalls = watchOutput(redis, out, expected);
      // The faults in order: `kills` kills of the lease holder, and Redis restarted once among them.
      const restartAt = rng.int(1, kills);
      const faults = Array.from({ length: kills + 1 }, (_, i) => (i === restartAt ? "redis" : "kill"));
      let killed = 0;
      let restarted = false;
      for (const [round, fault] of faults.entries()) {
        const mark = Math.floor((expected * (round + 1)) / (faults.length + 2));
        await waitFor(`the sink to hold ${mark} windows`, async () => (await emittedSoFar()) >= mark, 120_000);
        // Either fault lands while the lease holder holds entries (read, absorbed, not yet committed).
        let victim: string | undefined;
        await waitFor("the reduce lease holder to hold entries", async () => {
          const holder = (await redis.get(leaseKey).catch(() => null)) ?? "";
          const name = holder.slice(`${PIPELINE}-`.length);
          if (reducers.has(name) && (await pendingOf(redis, prefix, PIPELINE, "counts", holder).catch(() => 0)) > 0) victim = name;
          return victim !== undefined || (await emittedSoFar()) >= expected;
        }, 60_000);
        if (victim === undefined) break;
        await sleep(rng.int(0, 200));
        if (fault === "redis") {
          await server.kill();
          await sleep(rng.int(100, 600));
          // Same port, same directory: the server reloads what it had fsynced.
          server = await startRedisServer({ port: server.port, appendonly: true, args: [...aof, "--dir", dir] });
          servers.push(server);
          restarted = true;
          continue;
        }
        const worker = reducers.get(victim)!;
        victims.add(worker);
        worker.child.kill("SIGKILL");
        finished.push(await worker.exited);
        killed += 1;
        launch(victim, `counts/${victim}#${round + 1}`);
      }
      const exits = [await source.exited];
      // The last reduce workers, once none is restarted any more.
      let current: Worker[];
      do {
        current = [...reducers.values()];
        await Promise.all(current.map((worker) => worker.exited));
        await sleep(50);
      } while (current.some((worker, i) => worker !== [...reducers.values()][i]));
      exits.push(...(await Promise.all([...reducers.values()].map((worker) => worker.exited))));
      const maxStallMs = await stalls.stop();
      const { emitted, duplicated } = await outputOf(redis, out);
      const { missing, twice, wrong } = compare(reference, emitted);
      const failed = exits.some((exit) => exit.code !== 0) || wrong.length > 0;
      if (failed) {
        // Every worker's log, for the post-mortem.
        const logs = path.join(tmpdir(), `weir-faults-reduce-${seed}`);
        await mkdir(logs, { recursive: true });
        for (const [i, exit] of [...finished, ...exits].entries()) await writeFile(path.join(logs, `worker-${i}.log`), exit.stderr);
        console.error(`reduce trial ${trial}: workers' logs in ${logs}`);
      }
      recordFigures({
        scenario: "reduce",
        trial: `t${trial} ${killed} kills${restarted ? " + Redis restart" : ""}${selfStopped > 0 ? `, ${selfStopped} taken over` : ""}${failed ? " FAILED" : ""}`,
        seed,
        messagesIn: expected,
        messagesOut: emitted.size,
        lost: missing.length,
        duplicatedBeforeDedup: dedupedOf([...finished, ...exits]),
        duplicatedAfterDedup: duplicated + twice.length,
        protocolErrors: protocolErrorsOf(exits),
        maxStallMs,
        exactlyOnce: true,
        note: `in/out count (keys, window) results of ${total} source entries; wrong counts: ${wrong.length}${wrong.length > 0 ? ` (${wrong.slice(0, 5).join("; ")})` : ""}`,
      });
      for (const exit of exits) expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
      // Only a takeover may stop a reduce worker (a supervisor restarts it).
      expect(selfStopReasons).toEqual([]);
      expect(killed).toBeGreaterThanOrEqual(2);
      expect(restarted).toBe(true);
      // A worker that took over found the dead holder's windows in Redis.
      expect([...finished, ...exits].some((exit) => exit.stderr.includes("reduce state loaded"))).toBe(true);
      expect(missing).toEqual([]);
      expect(twice).toEqual([]);
      expect(duplicated).toBe(0);
      expect(wrong).toEqual([]);
      expect(emitted.size).toBe(expected);
    } finally {
      redis.disconnect();
      for (const started of servers) await started.stop();
    }
  }, 300_000);
});
