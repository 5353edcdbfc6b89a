import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { createActor } from "xstate";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultRetryPolicy, type Message, type SinkContext, type SinkResult } from "@weir/actors";
import { choosePartition, createPipeline, parseSpec, type PipelineSpecInput } from "@weir/runtime";
import { commands } from "../src/cli/commands/index.js";
import { runCli } from "../src/cli/run-cli.js";
import { createBullmqSink } from "../src/connectors/bullmq/bullmq-sink.js";
import { createBullmqSource } from "../src/connectors/bullmq/bullmq-source.js";
import { fromJobId, toJobId } from "../src/connectors/bullmq/job-id.js";
import { sinkConnectorFromFunction } from "../src/connectors/sink-connector.js";
import { captureIO } from "./support/weir-cli.js";
import type { SourceConnector } from "../src/connectors/source-connector.js";
import { SpecError } from "../src/errors.js";
import { createFallbackWrite } from "../src/pipeline/fallback-writer.js";
import { provideVertexMachine } from "../src/pipeline/vertex-machine.js";
import { silentLogger } from "../src/observability/logger.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";

const url = redisTestUrl();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-bullmq-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Doc = PipelineSpecInput;

function doc(name: string, body: Doc["spec"]): Doc {
  return { apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name }, spec: body };
}

function message(id: string, extra: Partial<Message> = {}): Message {
  return { id, keys: [], value: encoder.encode(`value of ${id}`), eventTime: 1_700_000_000_000, headers: {}, ...extra };
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A source of fixed messages that never ends (like a queue): the pipeline runs until drained. */
function listSource(messages: readonly Message[]): SourceConnector {
  let next = 0;
  return {
    partitions: 1,
    async read(_partition, { max, timeoutMs, signal }) {
      if (next >= messages.length) {
        // The reader's signal outlives this read: the listener goes when the wait ends either way.
        await new Promise<void>((resolve) => {
          const onAbort = () => (clearTimeout(timer), resolve());
          const timer = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), timeoutMs);
          signal.addEventListener("abort", onAbort, { once: true });
        });
        return { entries: [], endOfStream: false };
      }
      const start = next;
      const batch = messages.slice(start, start + max);
      next += batch.length;
      return { entries: batch.map((entry, i) => ({ offset: String(start + i), message: entry })), endOfStream: false };
    },
    async ack() {},
    async close() {},
  };
}


async function weir(...args: string[]) {
  const io = captureIO();
  const code = await runCli(args, io, commands);
  return { code, stdout: io.out(), stderr: io.err() };
}

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

// ── no Redis needed ────────────────────────────────────────────────────────────────────────

describe("bullmq job ids", () => {
  it("keep ordinary message ids, and escape ':' and integer-looking ids reversibly", () => {
    const cases: Array<[string, string]> = [
      ["in-0-17", "in-0-17"],
      ["a.b/c", "a.b/c"],
      ["orders:eu:42", "orders%3Aeu%3A42"],
      ["100%", "100%25"],
      ["42", "%342"],
      ["-7", "%2D7"],
      ["NaN", "%4EaN"],
      ["%3A", "%253A"],
    ];
    for (const [id, jobId] of cases) {
      expect(toJobId(id)).toBe(jobId);
      expect(fromJobId(jobId)).toBe(id);
    }
  });

  it("never map two message ids to one job id", () => {
    const ids = ["a:b", "a%3Ab", "42", "%342", "%", "%25", "x"];
    expect(new Set(ids.map(toJobId)).size).toBe(ids.length);
  });
});

describe("bullmq in the spec", () => {
  const memoryDoc = (extra: Record<string, unknown>) =>
    doc("spec-test", {
      vertices: [
        { name: "in", source: { bullmq: { queue: "orders" } } },
        { name: "out", sink: { log: {}, retryStrategy: { onFailure: "fallback" }, fallback: { bullmq: { queue: "dlq" } } }, ...extra },
      ],
      edges: [{ from: "in", to: "out" }],
    });

  it("needs a url for every queue when the buffer is memory, with a hint", () => {
    let error: unknown;
    try {
      parseSpec(memoryDoc({}), dir);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SpecError);
    const issues = (error as SpecError).issues;
    expect(issues.map((issue) => issue.path)).toEqual(["spec.vertices[0].source.bullmq.url", "spec.vertices[1]"]);
    expect(issues[0]!.message).toMatch(/is required/);
    expect(issues[0]!.hint).toMatch(/url: "redis:\/\/<host>:6379".*buffer/);
    expect(issues[1]!.message).toBe("the fallback bullmq queue 'dlq' has no url, and the buffer is memory, so there is no Redis url to default to");
  });

  it("defaults every queue's url to the redis buffer's url", () => {
    const input = memoryDoc({});
    input.spec.buffer = { type: "redis", url: "redis://cache:6380" };
    const { spec } = parseSpec(input, dir);
    const [source, sink] = spec.spec.vertices;
    expect(source).toMatchObject({ source: { bullmq: { queue: "orders", url: "redis://cache:6380", prefix: "bull" } } });
    expect(sink).toMatchObject({ kind: "sink", fallback: { bullmq: { queue: "dlq", url: "redis://cache:6380", prefix: "bull" } } });
  });

  it("keeps an explicit url and rejects a queue name with ':'", () => {
    const input = doc("spec-test", {
      vertices: [
        { name: "in", source: { generator: { total: 1 } } },
        { name: "out", sink: { bullmq: { queue: "a:b", url: "redis://q:6379" } } },
      ],
      edges: [{ from: "in", to: "out" }],
    });
    expect(() => parseSpec(input, dir)).toThrow(/spec\.vertices\[1\]\.sink\.bullmq\.queue: must not contain ':'/);
  });
});

// ── real Redis ─────────────────────────────────────────────────────────────────────────────

describe.skipIf(url === undefined)("bullmq with a real Redis", () => {
  const redisUrl = url as string;
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  let prefix = "";

  const test = (name: string, body: () => Promise<void>, timeout?: number) =>
    it(
      name,
      async () => {
        prefix = uniquePrefix("bq");
        await body();
      },
      timeout,
    );

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await deleteKeys(redisUrl, `bull:${prefix}*`);
    await deleteKeys(redisUrl, `${prefix}*`);
  });

  /** A queue to look into and seed, on its own connection. */
  const inspect = (name: string) => {
    const client = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
    const queue = new Queue(name, { connection: client });
    cleanup.push(async () => {
      await queue.close();
      client.disconnect();
    });
    return queue;
  };

  const specFile = async (input: Doc) => {
    const file = path.join(dir, `${prefix}.json`);
    await writeFile(file, JSON.stringify(input));
    return file;
  };

  test(
    "acceptance: with 4 partitions and a sink that falls back a random half, the DLQ holds exactly that half, every partition keeps moving, and a replay completes them",
    async () => {
      const total = 200;
      const dlqName = `${prefix}-dlq`;
      const messages = Array.from({ length: total }, (_, i) => message(`m-${i}`));
      const doomed = new Set([...messages].sort(() => Math.random() - 0.5).slice(0, total / 2).map((entry) => entry.id));
      const input = doc("dlq-acceptance", {
        buffer: { type: "redis", url: redisUrl, keyPrefix: prefix },
        limits: { readBatchSize: 20, readTimeout: "20ms" },
        vertices: [
          { name: "in", source: { generator: { rpu: 1 } } },
          {
            name: "out",
            partitions: 4,
            sink: { blackhole: {}, retryStrategy: { backoff: { interval: "5ms", steps: 1 }, onFailure: "fallback" }, fallback: { bullmq: { queue: dlqName } } },
          },
        ],
        edges: [{ from: "in", to: "out" }],
      });
      const file = await specFile(input);
      const perPartition = Array.from({ length: 4 }, () => ({ ok: 0, fallback: 0 }));
      const fellBack = new Map<string, number>();
      const replayed = new Map<string, Message>();
      const sink = async (batch: readonly Message[], context: SinkContext): Promise<SinkResult[]> =>
        batch.map((entry): SinkResult => {
          const replayOf = entry.headers["x-weir-replay-of"];
          if (replayOf !== undefined) {
            replayed.set(replayOf, entry);
            return { id: entry.id, status: "ok" };
          }
          if (doomed.has(entry.id)) {
            perPartition[context.partition]!.fallback++;
            fellBack.set(entry.id, context.partition);
            return { id: entry.id, status: "fallback", reason: `unlucky ${entry.id}` };
          }
          perPartition[context.partition]!.ok++;
          return { id: entry.id, status: "ok" };
        });
      const pipeline = createPipeline(parseSpec(input, dir), { sources: { in: listSource(messages) }, sinks: { out: sink } });
      const done = pipeline.start();
      cleanup.push(() => pipeline.stop());
      await waitFor("every message to be final and committed", () => pipeline.counts()["out"]!.acked === total);

      // Every partition moved: each settled all it got (its share by id hash, partition-choice.ts).
      for (const [p, counts] of perPartition.entries()) {
        const share = messages.filter((entry) => choosePartition(4, entry.keys, entry.id) === p).length;
        expect(counts.ok + counts.fallback).toBe(share);
        expect(counts.fallback).toBeGreaterThan(0);
      }
      expect(pipeline.counts()["out"]).toMatchObject({ ok: total / 2, fallback: total / 2, dropped: 0, protocolErrors: 0 });

      // The DLQ holds exactly the doomed half, by id, with where and why.
      const listed = await weir("dlq", "list", file, "--json");
      expect(listed.code).toBe(0);
      const letters = jsonLines(listed.stdout);
      expect(new Set(letters.map((letter) => letter["id"]))).toEqual(doomed);
      expect(letters).toHaveLength(doomed.size);
      const first = letters[0]!;
      expect(first).toMatchObject({ queue: dlqName, vertex: "out", attempts: 1, reason: `unlucky ${first["id"] as string}`, state: "waiting", headers: {} });
      expect(first["partition"]).toBe(fellBack.get(first["id"] as string));
      expect(decoder.decode(Buffer.from(first["value"] as string, "base64"))).toBe(`value of ${first["id"] as string}`);

      // Replay puts them back into out's input buffer, the running pipeline completes them, the DLQ empties.
      const replay = await weir("dlq", "replay", file);
      expect(replay.stderr).toBe("");
      expect(replay.code).toBe(0);
      expect(replay.stdout).toBe(`queue ${dlqName}: replayed ${doomed.size} dead letters into their vertices' input buffers (out: ${doomed.size})\n`);
      await waitFor("every replayed message to reach the sink", () => replayed.size === doomed.size);
      expect(new Set(replayed.keys())).toEqual(doomed);
      for (const [original, entry] of replayed) {
        expect(entry.id).toMatch(new RegExp(`^${original}~replay-\\d+$`));
        expect(decoder.decode(entry.value)).toBe(`value of ${original}`);
      }
      await waitFor("the replayed messages to commit", () => pipeline.counts()["out"]!.acked === total * 1.5);
      expect(pipeline.counts()["out"]).toMatchObject({ ok: total, fallback: total / 2 });
      expect(jsonLines((await weir("dlq", "list", file, "--json")).stdout)).toEqual([]);

      pipeline.drain();
      expect((await done).status).toBe("drained");
    },
    60_000,
  );

  test("a udf vertex's dead letters replayed after its bounded run completed flow on to the sink in the next run: the replay reopens what is downstream", async () => {
    const dlqName = `${prefix}-dlq`;
    const input = doc("dlq-ended", {
      buffer: { type: "redis", url: redisUrl, keyPrefix: prefix },
      limits: { readTimeout: "10ms" },
      vertices: [
        { name: "in", source: { generator: { total: 10, rpu: 10_000_000 } } },
        { name: "map", udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "1ms", steps: 1 }, onFailure: "fallback" }, fallback: { bullmq: { queue: dlqName } } },
        { name: "out", sink: { blackhole: {} } },
      ],
      edges: [
        { from: "in", to: "map" },
        { from: "map", to: "out" },
      ],
    });
    // The udf fails in-0-3 until it is replayed; the sink records what reaches it.
    const udf = (entry: Message) => {
      if (entry.id === "in-0-3") throw new Error("no");
      return [{ value: entry.value }];
    };
    const reached: string[] = [];
    const sink = async (batch: readonly Message[]): Promise<SinkResult[]> => (reached.push(...batch.map((entry) => entry.id)), batch.map((entry) => ({ id: entry.id, status: "ok" })));
    const first = await createPipeline(parseSpec(input, dir), { udfs: { map: udf }, sinks: { out: sink } }).start();
    expect(first).toMatchObject({ status: "completed", vertices: { map: { fallback: 1 }, out: { ok: 9 } } });
    const file = await specFile(input);
    const replay = await weir("dlq", "replay", file);
    expect(replay.stderr).toBe("");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toBe(`queue ${dlqName}: replayed 1 dead letter into their vertices' input buffers (map: 1)\n`);

    reached.length = 0;
    const second = await createPipeline(parseSpec(input, dir), { udfs: { map: udf }, sinks: { out: sink } }).start();
    expect(second).toMatchObject({ status: "completed", vertices: { in: { read: 0 }, map: { read: 1, fallback: 0 }, out: { read: 1, ok: 1 } } });
    expect(reached).toEqual([expect.stringMatching(/^in-0-3~replay-\d+$/)]);
    expect(jsonLines((await weir("dlq", "list", file, "--json")).stdout)).toEqual([]);
  });

  test("a redriven epoch never enqueues a message twice: same id, one job", async () => {
    const dlqName = `${prefix}-dlq`;
    const dlq = createBullmqSink({ queue: dlqName, url: redisUrl });
    cleanup.push(() => dlq.close());
    const fallback = createFallbackWrite(dlq.write, silentLogger);
    const items = ["in-0-1", "orders:eu:7", "42"].map((id) => ({ message: message(id, { keys: ["k"], headers: { trace: "t-1" } }), reason: `failed ${id}`, attempts: 3 }));
    // The session writes an epoch's fallbacks, then (after a protocol error, a timeout or a
    // crash before the commit) the redriven epoch writes the same messages again.
    await fallback({ vertex: "out", partition: 2, epoch: 7, items });
    await fallback({ vertex: "out", partition: 2, epoch: 8, items });
    await fallback({ vertex: "out", partition: 2, epoch: 8, items: items.slice(1) });

    const queue = inspect(dlqName);
    expect(await queue.getJobCounts("waiting", "active", "completed", "failed", "delayed")).toEqual({ waiting: 3, active: 0, completed: 0, failed: 0, delayed: 0 });
    const job = await queue.getJob(toJobId("orders:eu:7"));
    expect(job?.name).toBe("out");
    expect(job?.data).toEqual({
      id: "orders:eu:7",
      keys: ["k"],
      value: Buffer.from("value of orders:eu:7").toString("base64"),
      encoding: "base64",
      eventTime: 1_700_000_000_000,
      headers: { trace: "t-1" },
      vertex: "out",
      partition: 2,
      epoch: 7,
      reason: "failed orders:eu:7",
      attempts: 3,
    });
    expect(await queue.getJob("%342")).toBeDefined();
  });

  test("the bullmq sink: one job per message, idempotent by id when the same input runs twice", async () => {
    const queueName = `${prefix}-out`;
    const input = doc("bullmq-sink", {
      limits: { readBatchSize: 25, readTimeout: "10ms" },
      vertices: [
        { name: "in", source: { generator: { total: 60, rpu: 10_000_000, keyCount: 4 } } },
        { name: "out", partitions: 2, sink: { bullmq: { queue: queueName, url: redisUrl } } },
      ],
      edges: [{ from: "in", to: "out" }],
    });
    for (let run = 1; run <= 2; run++) {
      const summary = await createPipeline(parseSpec(input, dir)).start();
      expect(summary.status).toBe("completed");
      expect(summary.vertices["out"]).toMatchObject({ ok: 60, acked: 60 });
    }
    const queue = inspect(queueName);
    expect(await queue.getWaitingCount()).toBe(60);
    const jobs = await queue.getJobs(["waiting"], 0, -1);
    expect(new Set(jobs.map((job) => job.id))).toEqual(new Set(Array.from({ length: 60 }, (_, i) => `in-0-${i}`)));
    const data = jobs[0]!.data as Record<string, unknown>;
    expect(data).toMatchObject({ id: jobs[0]!.id, encoding: "base64", vertex: "out", headers: {} });
    expect(data["keys"]).toHaveLength(1);
    expect(data).not.toHaveProperty("reason");
  });

  test("the bullmq source: every job reaches the sink as a message, and jobs complete as their epochs commit", async () => {
    const queueName = `${prefix}-in`;
    const queue = inspect(queueName);
    await queue.add("text", { value: "hello", keys: ["eu"], headers: { h: "1" }, eventTime: 1_600_000_000_000 }, { jobId: "text-1" });
    await queue.add("bytes", { value: Buffer.from([0, 1, 255]).toString("base64"), encoding: "base64" }, { jobId: "bytes-1" });
    await queue.add("plain", { customer: "c7", amount: 12 });
    for (let i = 0; i < 27; i++) await queue.add("bulk", { value: `v${i}` }, { jobId: `job-${i}` });
    const delivered = new Map<string, Message>();
    const input = doc("bullmq-source", {
      limits: { readBatchSize: 8, readTimeout: "20ms" },
      vertices: [
        { name: "in", partitions: 2, source: { bullmq: { queue: queueName, url: redisUrl } } },
        { name: "out", partitions: 2, sink: { blackhole: {} } },
      ],
      edges: [{ from: "in", to: "out" }],
    });
    const pipeline = createPipeline(parseSpec(input, dir), {
      sinks: {
        out: async (batch) => {
          for (const entry of batch) delivered.set(entry.id, entry);
          return batch.map((entry) => ({ id: entry.id, status: "ok" as const }));
        },
      },
    });
    const done = pipeline.start();
    cleanup.push(() => pipeline.stop());
    await waitFor("all 30 jobs to complete", async () => (await queue.getCompletedCount()) === 30);
    await waitFor("all 30 messages to reach the sink", () => delivered.size === 30);
    expect(await queue.getJobCounts("waiting", "active")).toEqual({ waiting: 0, active: 0 });

    expect(delivered.get("text-1")).toEqual({ id: "text-1", keys: ["eu"], value: encoder.encode("hello"), eventTime: 1_600_000_000_000, headers: { h: "1" } });
    expect([...delivered.get("bytes-1")!.value]).toEqual([0, 1, 255]);
    const plain = [...delivered.values()].find((entry) => !entry.id.includes("-"))!;
    expect(JSON.parse(decoder.decode(plain.value))).toEqual({ customer: "c7", amount: 12 });
    pipeline.drain();
    expect((await done).status).toBe("drained");
  });

  test(
    "the bullmq source completes a job only once its epoch commits: a failing first attempt leaves it active, locked past its lock duration",
    async () => {
      const queueName = `${prefix}-held`;
      const queue = inspect(queueName);
      for (let i = 0; i < 10; i++) await queue.add("job", { value: `v${i}` }, { jobId: `held-${i}` });
      // A short lock and a fast stalled checker: without renewal the jobs would go back to wait.
      const source = createBullmqSource({ queue: queueName, url: redisUrl, partitions: 1, lockDurationMs: 600, stalledIntervalMs: 200, blockSliceMs: 50 });
      cleanup.push(() => source.close());
      const seenIn = new Map<string, Set<number>>();
      const statesOnFailure: string[] = [];
      const sinkWrite = async (batch: readonly Message[], context: SinkContext): Promise<SinkResult[]> => {
        for (const entry of batch) seenIn.set(entry.id, (seenIn.get(entry.id) ?? new Set()).add(context.epoch));
        if (context.attempt === 1) {
          await sleep(1_500); // longer than two lock durations
          for (const entry of batch) statesOnFailure.push(await queue.getJobState(entry.id));
          return batch.map((entry) => ({ id: entry.id, status: "failure" as const, error: "down" }));
        }
        return batch.map((entry) => ({ id: entry.id, status: "ok" as const }));
      };
      // The source vertex exactly as createPipeline wires it, with this sink in the forwarder's place.
      const machine = provideVertexMachine({
        read: (request, signal) => source.read(request.partition, { max: request.max, timeoutMs: request.timeoutMs, signal }),
        ack: (request) => source.ack(request.partition, request.offsets),
        sink: sinkConnectorFromFunction(sinkWrite),
        fallback: async () => undefined,
      });
      const actor = createActor(machine, {
        input: {
          vertex: "in",
          partitions: 1,
          readBatchSize: 10,
          readTimeoutMs: 50,
          maxInflightEpochs: 1,
          retry: { ...defaultRetryPolicy, intervalMs: 100, onFailure: "retry" },
          resultTimeoutMs: 10_000,
        },
      });
      cleanup.push(() => actor.stop());
      actor.start();
      await waitFor("the first attempt to fail", () => statesOnFailure.length === 10);
      expect(new Set(statesOnFailure)).toEqual(new Set(["active"]));
      expect(await queue.getCompletedCount()).toBe(0);
      await waitFor("the retried epoch to commit", async () => (await queue.getCompletedCount()) === 10);
      // Held past its lock duration, yet never stalled back to wait and delivered again.
      expect(seenIn.size).toBe(10);
      for (const epochs of seenIn.values()) expect(epochs.size).toBe(1);
      expect(await queue.getJobCounts("waiting", "active", "failed")).toEqual({ waiting: 0, active: 0, failed: 0 });
    },
    30_000,
  );

  test("weir dlq list and purge: output, filters and exit codes", async () => {
    const dlqName = `${prefix}-dlq`;
    const input = doc("dlq-cli", {
      vertices: [
        { name: "in", source: { generator: { total: 1 } } },
        { name: "map", udf: { builtin: { name: "cat" } }, fallback: { bullmq: { queue: dlqName, url: redisUrl } } },
        { name: "out", sink: { log: {}, retryStrategy: { onFailure: "fallback" }, fallback: { bullmq: { queue: dlqName, url: redisUrl } } } },
      ],
      edges: [
        { from: "in", to: "map" },
        { from: "map", to: "out" },
      ],
    });
    const file = await specFile(input);
    const dlq = createBullmqSink({ queue: dlqName, url: redisUrl });
    cleanup.push(() => dlq.close());
    const fallback = createFallbackWrite(dlq.write, silentLogger);
    const item = (id: string, reason: string) => ({ message: message(id), reason, attempts: 2 });
    await fallback({ vertex: "map", partition: 0, epoch: 1, items: [item("a", "udf threw"), item("b", "udf threw")] });
    await fallback({ vertex: "out", partition: 0, epoch: 3, items: [item("c", "sink said no"), item("d", "sink said no"), item("e", "timeout")] });
    // Another pipeline's dead letter in the same queue is left alone.
    await fallback({ vertex: "elsewhere", partition: 0, epoch: 1, items: [item("z", "not ours")] });

    const all = await weir("dlq", "list", file, "--json");
    expect(all.code).toBe(0);
    expect(jsonLines(all.stdout).map((letter) => [letter["id"], letter["vertex"], letter["reason"], letter["attempts"]])).toEqual([
      ["a", "map", "udf threw", 2],
      ["b", "map", "udf threw", 2],
      ["c", "out", "sink said no", 2],
      ["d", "out", "sink said no", 2],
      ["e", "out", "timeout", 2],
    ]);

    const text = await weir("dlq", "list", file, "--vertex", "out");
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`queue ${dlqName}: 3 dead letters`);
    expect(lines.slice(1)).toHaveLength(3);
    expect(lines[1]).toMatch(/^ {2}out\[0\] c \(\d{4}-\d\d-\d\dT[\d:.]+Z, 2 attempts\): sink said no$/);

    const byId = await weir("dlq", "list", file, "--ids", "e,a", "--json");
    expect(jsonLines(byId.stdout).map((letter) => letter["id"])).toEqual(["a", "e"]);
    const missing = await weir("dlq", "list", file, "--ids", "a,nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("weir: dlq list: no dead letter with id 'nope'\n");

    const unknownVertex = await weir("dlq", "list", file, "--vertex", "ot");
    expect(unknownVertex.code).toBe(2);
    expect(unknownVertex.stderr).toBe(`weir: dlq list: no vertex 'ot' in pipeline 'dlq-cli' (did you mean 'out'?); vertices are: in, map, out\n`);
    const noFallback = await weir("dlq", "purge", file, "--vertex", "in");
    expect(noFallback.code).toBe(2);
    expect(noFallback.stderr).toMatch(/vertex 'in' has no fallback with a bullmq dead-letter queue; add fallback: \{ bullmq: \{ queue: <name> \} \}/);
    const badSub = await weir("dlq", "purg", file);
    expect(badSub.code).toBe(2);
    expect(badSub.stderr).toMatch(/unknown subcommand 'purg' \(did you mean 'purge'\?\)/);
    const memoryReplay = await weir("dlq", "replay", file);
    expect(memoryReplay.code).toBe(2);
    expect(memoryReplay.stderr).toMatch(/uses the memory buffer.*replay needs buffer: \{ type: redis, url: … \}/);

    const purgeMap = await weir("dlq", "purge", file, "--vertex", "map");
    expect(purgeMap).toEqual({ code: 0, stdout: `queue ${dlqName}: purged 2 dead letters\n`, stderr: "" });
    expect(jsonLines((await weir("dlq", "list", file, "--json")).stdout).map((letter) => letter["id"])).toEqual(["c", "d", "e"]);
    const purgeAll = await weir("dlq", "purge", file, "--json");
    expect(purgeAll.code).toBe(0);
    expect(JSON.parse(purgeAll.stdout)).toEqual({ queue: dlqName, purged: 3, failed: [] });
    expect((await weir("dlq", "list", file)).stdout).toBe(`queue ${dlqName}: no dead letters\n`);
    // Only this pipeline's letters were touched.
    expect(await inspect(dlqName).getWaitingCount()).toBe(1);
  });
});
