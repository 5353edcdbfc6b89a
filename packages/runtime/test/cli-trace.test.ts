import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, startWeir } from "./support/weir-cli.js";

const spec = `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: traced }
spec:
  buffer: { type: memory }
  limits: { readBatchSize: 50, readTimeout: 20ms }
  vertices:
    - name: in
      # Small: the test records, replays and replays a tampered copy — three processes — and
      # must finish on a busy machine; 400 messages still make dozens of epochs per partition.
      source: { generator: { total: 400, rpu: 20000, duration: 1s, msgSize: 32, keyCount: 8 } }
    - name: cat
      partitions: 2
      udf: { builtin: { name: cat } }
    - name: out
      partitions: 3
      sink: { blackhole: {} }
  edges:
    - { from: in, to: cat }
    - { from: cat, to: out }
`;

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "weir-cli-trace-"));
  await writeFile(path.join(dir, "traced.yaml"), spec);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("weir run --trace / weir trace replay", () => {
  // One recording, then one test per replay: each step is its own test (and its own time guard)
  // rather than three processes in a row inside one test.
  let trace: string;
  let lines: string[];
  beforeAll(async () => {
    trace = path.join(dir, "run.trace.jsonl");
    const run = startWeir(["run", path.join(dir, "traced.yaml"), "--json", "--trace", trace]);
    expect(await run.exited, run.stderr()).toBe(0);
    expect(run.stderr()).toMatch(/trace: \d+ records \(.*\) in .*run\.trace\.jsonl/);
    lines = (await readFile(trace, "utf8")).trimEnd().split("\n");
  });

  it("records a run: a header first, an end record with the summary last", () => {
    const first = JSON.parse(lines[0]!) as { k: string; format: string; pipeline: string };
    expect(first).toMatchObject({ k: "header", format: "weir.trace/v7", pipeline: "traced" });
    const last = JSON.parse(lines.at(-1)!) as { k: string; elided: number; summary: { status: string } };
    expect(last).toMatchObject({ k: "end", elided: 0, summary: { status: "completed" } });
    // v5: a reader's readerIo hands reads to the batcher itself, recorded with `to`.
    const handOver = lines.map((line) => JSON.parse(line) as { k: string; src?: string; to?: string; e?: { type?: string } }).find((r) => r.k === "io" && r.to !== undefined);
    expect(handOver).toMatchObject({ src: "readerIo", e: { type: "reader.batchRead" } });
    expect(handOver?.to).toMatch(/\/batcher\/\d+$/);
  });

  it("replays the recording: exit 0 when the same", async () => {
    const same = startWeir(["trace", "replay", trace]);
    expect(await same.exited, same.stderr()).toBe(0);
    expect(same.stdout()).toMatch(/the replay matched — \d+ stimuli, \d+ steps of \d+ actors checked/);
  });

  it("exits 1 with a diff naming the actor and the step when a transition differs", async () => {
    // Change one recorded transition of out/sink/1: the replay must point at it.
    const index = lines.findIndex((line) => line.includes('"k":"snap","a":"out/sink/1","e":"batcher.eot","v":"writing"'));
    expect(index).toBeGreaterThan(0);
    const edited = [...lines];
    edited[index] = edited[index]!.replace('"v":"writing"', '"v":"idle"');
    const tampered = path.join(dir, "tampered.trace.jsonl");
    await writeFile(tampered, `${edited.join("\n")}\n`);
    const diverged = startWeir(["trace", "replay", tampered]);
    expect(await diverged.exited).toBe(1);
    const out = diverged.stdout();
    expect(out).toMatch(/trace replay diverged: actor out\/sink\/1 \(sinkSession\), step \d+ \(trace line \d+\)/);
    expect(out).toContain(`(trace line ${index + 1})`);
    expect(out).toMatch(/- step \d+ +batcher\.eot → "idle"/);
    expect(out).toMatch(/\+ step \d+ +batcher\.eot → "writing"/);
  });

  it("calls a trace cut off before its end record incomplete (exit 2), not a divergence", async () => {
    const cut = path.join(dir, "cut.trace.jsonl");
    // Cut in the middle of the run, as a SIGKILL would: the lines up to a point, no end record.
    await writeFile(cut, `${lines.slice(0, Math.floor(lines.length / 2)).join("\n")}\n`);
    const result = startWeir(["trace", "replay", cut]);
    expect(await result.exited).toBe(2);
    expect(result.stderr()).toMatch(/cut\.trace\.jsonl: incomplete trace — its last line is not the end record/);
    expect(result.stdout()).toBe("");
  });

  it.each([
    ["an empty file", "", /is not a trace: the file is empty/],
    ["a header only", "header", /is not a trace: it holds a header and no recorded step/],
  ])("exits 2 'not a trace' for %s", async (what, content, message) => {
    const file = path.join(dir, `${what.replaceAll(" ", "-")}.jsonl`);
    await writeFile(file, content === "header" ? `${lines[0]!}\n` : content);
    const result = startWeir(["trace", "replay", file]);
    expect(await result.exited).toBe(2);
    expect(result.stderr()).toMatch(message);
    expect(result.stdout()).toBe("");
  });

  it("exits 2 for a file that is not a trace", async () => {
    const bogus = path.join(dir, "bogus.jsonl");
    await writeFile(bogus, "not json\n");
    const result = startWeir(["trace", "replay", bogus]);
    expect(await result.exited).toBe(2);
    expect(result.stderr()).toMatch(/cannot replay .*bogus\.jsonl: .*:1:/);
  });
});
