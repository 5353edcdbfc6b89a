/**
 * `weir why <spec> --vertex v` (issue #13, "Seeing it"): on Redis, per input partition, the
 * watermark, its lag, the writer and processor holding it back and since when, and a reduce
 * vertex's open windows — all read from Redis while the pipeline runs in another client.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands } from "../src/cli/commands/index.js";
import { runCli } from "../src/cli/run-cli.js";
import { createPipeline } from "../src/index.js";
import { loadSpec } from "../src/spec/load-spec.js";
import { partitionKeys } from "../src/buffer/redis/keys.js";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";
import { captureIO } from "./support/weir-cli.js";

const url = redisTestUrl();

describe.skipIf(url === undefined)("weir why", () => {
  const redisUrl = url as string;
  const prefix = uniquePrefix("why");
  let dir: string;
  let admin: Redis;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-why-"));
    admin = new Redis(redisUrl);
  });
  afterAll(async () => {
    admin?.disconnect();
    await deleteKeys(redisUrl, `${prefix}*`);
    await rm(dir, { recursive: true, force: true });
  });

  const specFile = async (name: string, buffer: string) => {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        `metadata: { name: ${name} }`,
        "spec:",
        `  buffer: ${buffer}`,
        "  watermark: { maxDelay: 0s }",
        "  limits: { readBatchSize: 50, readTimeout: 20ms }",
        "  vertices:",
        "    - { name: in, partitions: 2, source: { generator: { total: 100000000, rpu: 20, duration: 100ms, keyCount: 3 } } }",
        "    - { name: counts, partitions: 2, udf: { builtin: { name: count }, groupBy: { window: { fixed: { length: 60m } }, keyed: true } } }",
        "    - { name: out, sink: { log: {} } }",
        "  edges:",
        "    - { from: in, to: counts }",
        "    - { from: counts, to: out }",
        "",
      ].join("\n"),
    );
    return file;
  };

  it("says which writer and processor hold each partition's watermark back, since when, and which windows are open", { timeout: 60_000 }, async () => {
    const file = await specFile("whyred", `{ type: redis, url: "${redisUrl}", keyPrefix: ${prefix} }`);
    const pipeline = createPipeline(await loadSpec(file), { consumer: "worker-a", sinks: { out: async (messages) => messages.map((message) => ({ id: message.id, status: "ok" as const })) } });
    const run = pipeline.start();
    try {
      // Both partitions of `counts` have a stored view with a watermark, and window state.
      for (let partition = 0; partition < 2; partition++) {
        const keys = partitionKeys(prefix, "whyred.counts", partition);
        await expect.poll(async () => JSON.parse((await admin.hget(keys.watermarkView, "worker-a")) ?? "{}").watermark, { timeout: 30_000 }).toBeTypeOf("number");
        await expect.poll(async () => admin.hlen(keys.windows), { timeout: 30_000 }).toBeGreaterThan(0);
      }
      const io = captureIO();
      expect(await runCli(["why", file, "--vertex", "counts"], io, commands), io.err()).toBe(0);
      const text = io.out();
      expect(text).toMatch(/its watermark is partition \d's, the lowest: \d{4}-\d\d-\d\dT[^ ]+ \(lag \d+\.\d s\)/);
      expect(text).toMatch(/partition 0: watermark \d{4}-[^ ]+ \(lag [^)]+\), risen last at [^ ]+ \([^)]+ ago\), reader worker-a/);
      expect(text).toMatch(/held back by writer 'in\/[01]', processor 'worker-a', at \d{4}-[^ ]+ since [^ ]+ \([^)]+ ago\)/);
      expect(text).toMatch(/reader worker-a \(last mark [^)]+\): in\/0@worker-a [^ ]+, in\/1@worker-a/);
      expect(text).toMatch(/open windows: [1-3]; \[key-\d\] /);

      const json = captureIO();
      expect(await runCli(["why", file, "--vertex", "counts", "--json"], json, commands)).toBe(0);
      const report = JSON.parse(json.out()) as { inputs: Array<{ vertex: string; partitions: Array<{ partition: number; watermark: number; heldBy: { writer: string; processor: string }; openWindows: number; windows: Array<{ keys: string[]; start: number; end: number }> }> }> };
      const partitions = report.inputs[0]!.partitions;
      expect(partitions.map((partition) => partition.partition)).toEqual([0, 1]);
      for (const partition of partitions) {
        expect(partition.heldBy.processor).toBe("worker-a");
        expect(partition.openWindows).toBe(partition.windows.length);
        for (const window of partition.windows) expect(window.end - window.start).toBe(3_600_000);
      }

      const source = captureIO();
      expect(await runCli(["why", file, "--vertex", "in"], source, commands)).toBe(0);
      expect(source.out()).toMatch(/in\/[01]@worker-a → counts\[[01]\]: \d{4}-/);
    } finally {
      pipeline.stop();
      await run;
    }
  });

  it("names a dead processor that still holds a partition back, and a partition no writer has marked yet", async () => {
    const file = await specFile("whydead", `{ type: redis, url: "${redisUrl}", keyPrefix: ${prefix} }`);
    const keys = partitionKeys(prefix, "whydead.counts", 0);
    const view = {
      watermark: 5_000,
      since: 1_000,
      at: 60_000,
      writers: [
        { writer: "in/0", processors: [{ processor: "gone", watermark: 5_000, writtenAt: 2_000, since: 1_000, live: false }] },
        { writer: "in/1", processors: [{ processor: "w", watermark: 59_000, writtenAt: 60_000, since: 59_500, live: true }] },
      ],
    };
    await admin.hset(keys.watermarkView, "w", JSON.stringify(view));
    const io = captureIO();
    expect(await runCli(["why", file, "--vertex", "counts"], io, commands), io.err()).toBe(0);
    expect(io.out()).toContain("no watermark yet on partition 1: that holds the vertex's watermark undefined");
    expect(io.out()).toContain("held back by writer 'in/0', processor 'gone', at 1970-01-01T00:00:05.000Z since 1970-01-01T00:00:01.000Z");
    expect(io.out()).toContain("that processor stopped marking (dead?) and no live one replaced it");
    expect(io.out()).toContain("in/0@gone 1970-01-01T00:00:05.000Z (dead)");
    expect(io.out()).toContain("partition 1: watermark none yet");
    expect(io.out()).toContain("held back by writer 'in/0': no mark from it yet");
    expect(io.out()).toContain("open windows: 0");
  });

  it("on the memory buffer, explains it needs Redis and where to look instead", async () => {
    const file = await specFile("whymem", "{ type: memory }");
    const io = captureIO();
    expect(await runCli(["why", file, "--vertex", "counts"], io, commands)).toBe(2);
    expect(io.err()).toContain("uses the memory buffer");
    expect(io.err()).toContain("weir run <spec> --ui");
  });

  it("is listed by weir --help and refuses an unknown vertex with a suggestion", async () => {
    const help = captureIO();
    expect(await runCli(["--help"], help, commands)).toBe(0);
    expect(help.out()).toContain("why <spec> --vertex <v>");
    const file = await specFile("whyhelp", "{ type: memory }");
    const io = captureIO();
    expect(await runCli(["why", file, "--vertex", "count"], io, commands)).toBe(2);
    expect(io.err()).toContain("no vertex 'count'");
  });
});
