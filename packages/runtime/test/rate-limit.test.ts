import { describe, expect, it } from "vitest";
import { parseSpec } from "../src/spec/load-spec.js";
import { pipelineJsonSchema } from "../src/spec/json-schema.js";
import { effectiveLimits } from "../src/spec/pipeline-spec.js";
import { issuesOf } from "./support/spec-issues.js";
import { adjust, idleResetMs, rateAt, take, type BucketState, type RateParams } from "../src/flow/rate-bucket.js";
import { memoryTokenBucket } from "../src/flow/rate-store.js";
import { RateLimiter } from "../src/flow/rate-limiter.js";
import { AdaptiveCeiling, observeAttempts } from "../src/flow/rate-adaptive.js";
import { withRateLimit, type VertexRateLimit } from "../src/flow/rate-limited-read.js";
import { silentLogger, type Logger } from "../src/observability/logger.js";
import type { Message, ReadBatchInput, SinkResult } from "@weir/actors";
import { createPipeline } from "../src/pipeline/create-pipeline.js";
import { createJsonLogger } from "../src/observability/logger.js";

const ramp: RateParams = { max: 500, min: 10, rampUpMs: 10_000 };

/** Takes as much as it can every `stepMs` from `from` to `to`; returns the tokens granted per whole second. */
function drain(params: RateParams, from: number, to: number, stepMs: number): number[] {
  let state: BucketState | undefined;
  const perSecond: number[] = [];
  for (let now = from; now < to; now += stepMs) {
    const result = take(state, now, params, 1_000_000);
    state = result.state;
    const second = Math.floor((now - from) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + result.granted;
  }
  return perSecond;
}

describe("the token bucket (injected clock)", () => {
  it("ramps the rate linearly from min to max over rampUpDuration, then holds max", () => {
    expect(rateAt(ramp, 0)).toBe(10);
    expect(rateAt(ramp, 5_000)).toBe(255);
    expect(rateAt(ramp, 10_000)).toBe(500);
    expect(rateAt(ramp, 60_000)).toBe(500);
    expect(rateAt({ max: 100, min: 100, rampUpMs: 0 }, 0)).toBe(100);
  });

  it("grants what the ramp allows, second by second, to a reader that always wants more", () => {
    const perSecond = drain(ramp, 1_000, 31_000, 10);
    // First second: the bucket starts full at min (10) plus the ramp's first second (~34.5).
    expect(perSecond[0]).toBeGreaterThanOrEqual(40);
    expect(perSecond[0]).toBeLessThanOrEqual(50);
    for (let second = 1; second < 10; second++) expect(perSecond[second]!).toBeGreaterThan(perSecond[second - 1]!);
    // After the ramp: exactly max per second, give or take the token carried over a boundary.
    for (let second = 11; second < 30; second++) expect(Math.abs(perSecond[second]! - 500)).toBeLessThanOrEqual(1);
    // Over the ramp: the area under the ramp (2,550) plus the bucket's start (10).
    const rampTotal = perSecond.slice(0, 10).reduce((a, b) => a + b, 0);
    expect(Math.abs(rampTotal - 2_560)).toBeLessThanOrEqual(10);
  });

  it("says how long until a chunk of tokens is there, and grants nothing before", () => {
    const params = { max: 100, min: 100, rampUpMs: 0 };
    const first = take(undefined, 0, params, 1_000);
    expect(first.granted).toBe(100);
    const empty = take(first.state, 0, params, 1_000);
    expect(empty.granted).toBe(0);
    // A chunk is 20 ms of tokens (2 at 100/s): due in 20 ms.
    expect(empty.waitMs).toBe(20);
    expect(take(empty.state, 19, params, 1_000).granted).toBe(0);
    expect(take(empty.state, 20, params, 1_000).granted).toBe(2);
  });

  it("holds at most one second of tokens, however long it idles (below the reset)", () => {
    const params = { max: 100, min: 100, rampUpMs: 0 };
    const first = take(undefined, 0, params, 1_000);
    expect(take(first.state, 9_000, params, 1_000).granted).toBe(100);
  });

  it("takes back tokens given back, and goes into debt for tokens taken without asking", () => {
    const params = { max: 100, min: 100, rampUpMs: 0 };
    const first = take(undefined, 0, params, 1_000);
    const returned = adjust(first.state, 0, params, 30);
    expect(take(returned, 0, params, 1_000).granted).toBe(30);
    const debt = adjust(first.state, 0, params, -50);
    // 50 tokens owed: the next 2 (a chunk) are due after 520 ms.
    expect(take(debt, 0, params, 1_000).waitMs).toBe(520);
    expect(take(debt, 520, params, 1_000).granted).toBe(2);
  });

  it("starts over (full at min, ramping again) once no one took for idleResetMs", () => {
    const first = take(undefined, 0, ramp, 1_000_000);
    const later = take(first.state, 20_000, ramp, 1_000_000);
    expect(later.rate).toBe(500);
    const reset = take(later.state, 20_000 + idleResetMs(ramp.rampUpMs) + 1, ramp, 1_000_000);
    expect(reset.rate).toBe(10);
    expect(reset.granted).toBe(10);
    expect(idleResetMs(10_000)).toBe(20_000);
    expect(idleResetMs(0)).toBe(10_000);
  });

  it("caps the rate at the adaptive ceiling, never below min", () => {
    expect(rateAt({ ...ramp, ceiling: 200 }, 60_000)).toBe(200);
    expect(rateAt({ ...ramp, ceiling: 1 }, 60_000)).toBe(10);
    expect(rateAt({ ...ramp, ceiling: 200 }, 0)).toBe(10);
  });
});

describe("RateLimiter (injected clock and sleep)", () => {
  function limiterWith(params: RateParams, logger: Logger = silentLogger) {
    let now = 0;
    const naps: number[] = [];
    const limiter = new RateLimiter({
      vertex: "out",
      store: memoryTokenBucket(params, () => now),
      initialRate: params.max,
      logger,
      clock: () => now,
      random: () => 0,
      sleep: async (ms, signal) => {
        if (signal.aborted) throw signal.reason;
        naps.push(ms);
        now += ms;
      },
    });
    return { limiter, naps, advance: (ms: number) => (now += ms) };
  }

  it("waits for tokens, once per chunk, then grants them", async () => {
    const { limiter, naps } = limiterWith({ max: 100, min: 100, rampUpMs: 0 });
    const signal = new AbortController().signal;
    expect(await limiter.acquire(500, { timeoutMs: 1_000, signal })).toBe(100);
    expect(await limiter.acquire(500, { timeoutMs: 1_000, signal })).toBe(2);
    expect(naps).toEqual([20]);
    expect(limiter.status()).toEqual({ limit: 100, waitedMs: 20, throttledReads: 1 });
  });

  it("gives up after the read's timeout with nothing, so the reader can hear a drain", async () => {
    const { limiter, naps } = limiterWith({ max: 1, min: 1, rampUpMs: 0 });
    const signal = new AbortController().signal;
    expect(await limiter.acquire(10, { timeoutMs: 100, signal })).toBe(1);
    expect(await limiter.acquire(10, { timeoutMs: 100, signal })).toBe(0);
    expect(naps.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it("stops waiting at once when aborted", async () => {
    const { limiter } = limiterWith({ max: 1, min: 1, rampUpMs: 0 });
    const controller = new AbortController();
    await limiter.acquire(1, { timeoutMs: 100, signal: controller.signal });
    controller.abort(new Error("stopped"));
    await expect(limiter.acquire(1, { timeoutMs: 10_000, signal: controller.signal })).rejects.toThrow("stopped");
  });

  it("logs when throttling starts and when it ends, not per read", async () => {
    const lines: Array<{ message: string; fields: unknown }> = [];
    const logger: Logger = { ...silentLogger, info: (message, fields) => lines.push({ message, fields }), child: () => logger };
    const { limiter, advance } = limiterWith({ max: 100, min: 100, rampUpMs: 0 }, logger);
    const signal = new AbortController().signal;
    for (let i = 0; i < 20; i++) await limiter.acquire(500, { timeoutMs: 1_000, signal });
    expect(lines.map((line) => line.message)).toEqual(["rate limit: throttling reads"]);
    advance(6_000);
    await limiter.acquire(1, { timeoutMs: 1_000, signal });
    expect(lines.map((line) => line.message)).toEqual(["rate limit: throttling reads", "rate limit: throttling ended"]);
  });
});

describe("withRateLimit", () => {
  const request: ReadBatchInput = { vertex: "out", partition: 0, max: 50, timeoutMs: 1_000, fromPending: false };
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ offset: `${i}`, message: { id: `m${i}`, keys: [], value: new Uint8Array(), eventTime: 0, headers: {} } }));

  function rateOf(params: RateParams): { rate: VertexRateLimit; now: { value: number } } {
    const now = { value: 0 };
    const limiter = new RateLimiter({ vertex: "out", store: memoryTokenBucket(params, () => now.value), initialRate: params.max, logger: silentLogger, clock: () => now.value, sleep: async (ms) => void (now.value += ms) });
    return { rate: { limiter, observe: (w) => w, observeConnector: (c) => c }, now };
  }

  it("reads at most the tokens granted and gives back what a short read did not use", async () => {
    const { rate } = rateOf({ max: 30, min: 30, rampUpMs: 0 });
    const asked: number[] = [];
    const read = withRateLimit(rate, async (input) => {
      asked.push(input.max);
      return { entries: entries(Math.min(input.max, 10)), endOfStream: false };
    });
    const signal = new AbortController().signal;
    expect((await read(request, signal)).entries).toHaveLength(10);
    // 30 granted, 10 used, 20 given back: the next read gets them.
    expect((await read(request, signal)).entries).toHaveLength(10);
    expect(asked).toEqual([30, 20]);
  });

  it("returns an empty read when no token comes within the read timeout", async () => {
    const { rate } = rateOf({ max: 1, min: 1, rampUpMs: 0 });
    let reads = 0;
    const read = withRateLimit(rate, async (input) => {
      reads += 1;
      return { entries: entries(input.max), endOfStream: false };
    });
    const signal = new AbortController().signal;
    const short = { ...request, timeoutMs: 100 };
    await read(short, signal);
    expect(await read(short, signal)).toEqual({ entries: [], endOfStream: false });
    expect(reads).toBe(1);
  });

  it("takes at most the rate's worth of one read timeout, so a reader blocked on an empty partition holds few tokens", async () => {
    const { rate } = rateOf({ max: 100, min: 100, rampUpMs: 0 });
    const asked: number[] = [];
    const read = withRateLimit(rate, async (input) => {
      asked.push(input.max);
      return { entries: [], endOfStream: false };
    });
    await read({ ...request, timeoutMs: 100 }, new AbortController().signal);
    expect(asked).toEqual([10]);
  });

  it("never holds back a re-read of the consumer's own pending entries, but charges them", async () => {
    const { rate } = rateOf({ max: 10, min: 10, rampUpMs: 0 });
    const read = withRateLimit(rate, async (input) => ({ entries: entries(input.max), endOfStream: false }));
    const signal = new AbortController().signal;
    expect((await read({ ...request, fromPending: true, timeoutMs: 0 }, signal)).entries).toHaveLength(50);
    // 40 tokens owed: the next read waits its whole timeout and gets nothing.
    expect((await read(request, signal)).entries).toHaveLength(0);
  });
});

describe("the adaptive ceiling (injected clock)", () => {
  it("lowers the ceiling while attempts fail or are slow, and raises it back to max when they recover", () => {
    let now = 0;
    const changes: string[] = [];
    const ceiling = new AdaptiveCeiling({ max: 500, min: 50, latencyTargetMs: 200, clock: () => now, onChange: ({ to }) => changes.push(to.toFixed(0)) });
    const second = (messages: number, failed: number, tookMs: number) => {
      ceiling.observe(messages, failed, tookMs);
      now += 1_000;
      return ceiling.ceiling();
    };
    expect(second(100, 0, 50)).toBe(500);
    expect(second(100, 10, 50)).toBe(350);
    expect(second(100, 0, 400)).toBeCloseTo(245);
    for (let i = 0; i < 10; i++) second(100, 100, 10);
    expect(ceiling.ceiling()).toBe(50);
    // No attempts: no evidence, the ceiling holds.
    now += 5_000;
    expect(ceiling.ceiling()).toBe(50);
    for (let i = 0; i < 10; i++) second(100, 0, 10);
    expect(ceiling.ceiling()).toBe(500);
    expect(changes[0]).toBe("350");
  });

  it("observes a sink function's failures, throws and durations", async () => {
    const seen: Array<[number, number]> = [];
    const ceiling = { observe: (messages: number, failed: number) => seen.push([messages, failed]) } as unknown as AdaptiveCeiling;
    const messages = [1, 2, 3].map((i) => ({ id: `m${i}`, keys: [], value: new Uint8Array(), eventTime: 0, headers: {} }));
    const context = { vertex: "out", partition: 0, epoch: 1, attempt: 1, signal: new AbortController().signal };
    await observeAttempts(async (batch) => batch.map((m, i) => (i === 0 ? { id: m.id, status: "failure" as const, error: "x" } : { id: m.id, status: "ok" as const })), ceiling)(messages, context);
    await expect(observeAttempts(async () => Promise.reject(new Error("down")), ceiling)(messages, context)).rejects.toThrow("down");
    expect(seen).toEqual([
      [3, 1],
      [3, 3],
    ]);
  });
});

describe("limits.rateLimit in the spec", () => {
  const doc = (limits: Record<string, unknown>, buffer: Record<string, unknown> = { type: "memory" }, vertexLimits?: Record<string, unknown>) => ({
    apiVersion: "weir.dev/v1",
    kind: "Pipeline",
    metadata: { name: "p" },
    spec: {
      buffer,
      limits,
      vertices: [
        { name: "in", source: { generator: { total: 10 } } },
        { name: "out", sink: { log: {} }, ...(vertexLimits === undefined ? {} : { limits: vertexLimits }) },
      ],
      edges: [{ from: "in", to: "out" }],
    },
  });
  it("parses durations and stores; a vertex's rateLimit replaces the pipeline's", () => {
    const { spec } = parseSpec(doc({ rateLimit: { max: 500, min: 10, rampUpDuration: "10s", store: { memory: {} } } }, { type: "memory" }, { rateLimit: { max: 5 } }), "/base");
    expect(spec.spec.limits.rateLimit).toEqual({ max: 500, min: 10, rampUpDuration: 10_000, store: { memory: {} } });
    expect(effectiveLimits(spec, spec.spec.vertices[0]!).rateLimit?.max).toBe(500);
    expect(effectiveLimits(spec, spec.spec.vertices[1]!).rateLimit).toEqual({ max: 5, rampUpDuration: 0 });
  });

  it("refuses a redis store on a memory buffer, naming the field and the fix", () => {
    const issue = issuesOf(doc({ rateLimit: { max: 500, store: { redis: {} } } })).find((candidate) => candidate.path === "spec.limits.rateLimit.store.redis");
    expect(issue?.message).toMatch(/needs a redis buffer/);
    expect(issue?.hint).toMatch(/store: \{ memory: \{\} \}/);
    const onVertex = issuesOf(doc({}, { type: "memory" }, { rateLimit: { max: 5, store: { redis: {} } } }));
    expect(onVertex.map((candidate) => candidate.path)).toContain("spec.vertices[1].limits.rateLimit.store.redis");
  });

  it("refuses min above max, and misspelt fields with a suggestion", () => {
    expect(issuesOf(doc({ rateLimit: { max: 5, min: 10 } })).find((issue) => issue.path === "spec.limits.rateLimit.min")?.message).toMatch(/above max/);
    const typo = issuesOf(doc({ rateLimit: { max: 5, rampUpDuraton: "1s" } }));
    expect(typo.map((issue) => `${issue.path} ${issue.message} ${issue.hint ?? ""}`).join("\n")).toMatch(/rampUpDuration/);
  });

  it("is in the JSON Schema", () => {
    expect(JSON.stringify(pipelineJsonSchema())).toContain("latencyTarget");
  });
});

describe("rate limits in a pipeline (memory store)", () => {
  const pipelineSpec = (limits: Record<string, unknown>, outLimits?: Record<string, unknown>, total = 300) =>
    parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "limited" },
        spec: {
          limits: { readBatchSize: 50, readTimeout: "20ms", ...limits },
          vertices: [
            { name: "in", source: { generator: { total, rpu: 1_000_000, duration: "1s" } } },
            { name: "out", partitions: 2, sink: { blackhole: {} }, ...(outLimits === undefined ? {} : { limits: outLimits }) },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      "/base",
    );

  it("limits every vertex's reads, each on its own bucket, and delivers everything", async () => {
    const pipeline = createPipeline(pipelineSpec({ rateLimit: { max: 5_000, min: 500, rampUpDuration: "50ms" } }));
    const summary = await pipeline.start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ read: 300, ok: 300 });
    expect(Object.keys(pipeline.rateLimits()).sort()).toEqual(["in", "out"]);
  });

  it("the adaptive mode lowers the limit while the sink fails, and says why", async () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: "info", write: (line) => lines.push(line) });
    let lowered: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (lowered = resolve));
    const spec = pipelineSpec({}, { rateLimit: { max: 1_000, min: 10, adaptive: { latencyTarget: "1s" } } }, 1_000_000);
    const sink = async (messages: readonly Message[]): Promise<SinkResult[]> => {
      if (lines.some((line) => line.includes("adaptive ceiling lowered"))) lowered();
      return messages.map((message) => ({ id: message.id, status: "failure", error: "downstream is down" }));
    };
    const pipeline = createPipeline(spec, { sinks: { out: sink }, logger });
    const done = pipeline.start();
    await seen;
    pipeline.stop();
    await done;
    const line = JSON.parse(lines.find((candidate) => candidate.includes("adaptive ceiling lowered"))!) as { vertex: string; from: number; to: number; reason: string };
    expect(line).toMatchObject({ vertex: "out", from: 1_000, to: 700 });
    expect(line.reason).toMatch(/messages failed in the last second/);
    expect(pipeline.rateLimits()["out"]!.limit).toBeLessThan(1_000);
  }, 30_000);
});
