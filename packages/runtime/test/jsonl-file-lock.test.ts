/**
 * One writer per exactly-once jsonl file (#10 item 4), with real processes: a second writer fails
 * fast and the file stays intact; a SIGKILLed holder's lock is taken over. And a failed commit
 * leaves no partial append behind (#10 item 14).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, SinkContext } from "@weir/actors";
import { createPipeline, parseSpec } from "@weir/runtime";
import { commitRecordPath, createExactlyOnceJsonlSink } from "../src/connectors/exactly-once-jsonl-sink.js";
import { lockPath } from "../src/connectors/jsonl-file-lock.js";
import { JsonlSinkError } from "../src/connectors/jsonl-sink-error.js";

const writerScript = fileURLToPath(new URL("./fixtures/jsonl-writer.ts", import.meta.url));
const runtimeDir = fileURLToPath(new URL("../", import.meta.url));
let dir: string;
let fileNumber = 0;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-jsonl-lock-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const newFile = () => path.join(dir, `out-${++fileNumber}.jsonl`);

/** A writer process (fixtures/jsonl-writer.ts): `commit()` asks it for one more epoch. */
function startWriter(file: string, name: string) {
  const child = spawn(process.execPath, ["--import", "tsx", writerScript, file, name], { cwd: runtimeDir });
  let out = "";
  let err = "";
  const waiters: Array<() => void> = [];
  child.stdout.on("data", (chunk: Buffer) => ((out += chunk.toString()), waiters.splice(0).forEach((wake) => wake())));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => (waiters.splice(0).forEach((wake) => wake()), resolve(code))));
  let done = false;
  void exited.then(() => (done = true));
  const waitFor = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const line = out.split("\n").find((candidate) => pattern.test(candidate));
        if (line !== undefined) return resolve(line);
        if (done) return reject(new Error(`writer ${name} exited before ${pattern}; stdout: ${out}; stderr: ${err}`));
        waiters.push(check);
      };
      check();
    });
  return {
    child,
    exited,
    waitFor,
    /** `open` or `refused <code>`. */
    started: () => waitFor(/^(open|refused)/),
    commit: async (epoch: number) => {
      child.stdin.write("\n");
      await waitFor(new RegExp(`^committed ${epoch}$`));
    },
  };
}

async function idsIn(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id);
}

/** The commit record names the file's exact length: nothing committed was cut, nothing foreign added. */
async function expectIntact(file: string): Promise<void> {
  const record = JSON.parse(await readFile(commitRecordPath(file), "utf8")) as { length: number };
  expect((await stat(file)).size).toBe(record.length);
}

const ids = (name: string, epochs: number) => Array.from({ length: epochs }, (_, e) => Array.from({ length: 20 }, (_, n) => `${name}-${e + 1}-${n}`)).flat();

describe("one writer per exactly-once jsonl file", () => {
  it("two processes racing for one file: one writes, the other fails fast with JSONL_LOCKED, the file is intact", async () => {
    const file = newFile();
    const a = startWriter(file, "a");
    const b = startWriter(file, "b");
    const [startedA, startedB] = await Promise.all([a.started(), b.started()]);
    expect([startedA, startedB].sort()).toEqual(["open", "refused JSONL_LOCKED"]);
    const [winner, loser, name] = startedA === "open" ? [a, b, "a"] : [b, a, "b"];
    expect(await loser.exited).toBe(3);
    for (let epoch = 1; epoch <= 3; epoch += 1) await winner.commit(epoch);
    // A third writer arriving late is refused too, and the holder's lines stay.
    const late = startWriter(file, "c");
    expect(await late.started()).toBe("refused JSONL_LOCKED");
    await winner.commit(4);
    winner.child.stdin.end();
    expect(await winner.exited).toBe(0);
    expect(await idsIn(file)).toEqual(ids(name, 4));
    await expectIntact(file);
    // Released at close: the next writer opens the file.
    await expect(stat(lockPath(file))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("the lock of a SIGKILLed holder is taken over, and its committed lines are kept", async () => {
    const file = newFile();
    const a = startWriter(file, "a");
    expect(await a.started()).toBe("open");
    await a.commit(1);
    await a.commit(2);
    a.child.kill("SIGKILL");
    await a.exited;
    // The holder's lock is still there: only the pid tells it is gone.
    await stat(lockPath(file));
    const b = startWriter(file, "b");
    expect(await b.started()).toBe("open");
    await b.commit(1);
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
    expect(await idsIn(file)).toEqual([...ids("a", 2), ...ids("b", 1)]);
    await expectIntact(file);
  });

  it("a second sink on the same file in the same process is refused as well", async () => {
    const file = newFile();
    const first = await createExactlyOnceJsonlSink(file);
    const error = await createExactlyOnceJsonlSink(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JsonlSinkError);
    expect((error as JsonlSinkError).code).toBe("JSONL_LOCKED");
    expect((error as Error).message).toContain(`process ${process.pid}`);
    expect((error as Error).message).toContain("give each worker its own file");
    await first.close();
    const again = await createExactlyOnceJsonlSink(file);
    await again.close();
  });

  it("a pipeline whose two sinks share one exactly-once file fails at start, naming the lock, instead of stalling", async () => {
    const file = newFile();
    const { spec } = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "two-writers" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { total: 10, rpu: 10_000_000 } } },
            { name: "one", sink: { jsonl: { path: file, exactlyOnce: true } } },
            { name: "two", sink: { jsonl: { path: file, exactlyOnce: true } } },
          ],
          edges: [
            { from: "in", to: "one" },
            { from: "in", to: "two" },
          ],
        },
      },
      dir,
    );
    const outcome = await createPipeline(spec)
      .start()
      .then((summary) => ({ summary }), (error: unknown) => ({ error }));
    const text = "error" in outcome ? String(outcome.error) : `${outcome.summary.status}: ${outcome.summary.reason ?? ""}`;
    expect(text).toMatch(/is being written by process \d+ .*weir-lock/);
    await expect(stat(lockPath(file))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("a failed exactly-once commit (#10 item 14)", () => {
  const message = (id: string): Message => ({ id, keys: [], value: new TextEncoder().encode("x"), eventTime: 0, headers: {} });
  const context = (epoch: number): SinkContext => ({ vertex: "out", partition: 0, epoch, attempt: 1, signal: new AbortController().signal });

  it("leaves no partial append in the file, so its retry succeeds", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!([message("a")], context(1));
    await sink.commit!(1);
    await sink.write!([message("b"), message("c")], context(2));
    // The commit record cannot be replaced while its temporary path is a directory: the commit
    // fails after the append and the fsync.
    const blocker = `${commitRecordPath(file)}.tmp`;
    await mkdir(blocker);
    const error = await sink.commit!(2).catch((caught: unknown) => caught);
    expect((error as JsonlSinkError).code).toBe("JSONL_COMMIT_FAILED");
    expect((error as JsonlSinkError).retriable).toBe(true);
    expect(await idsIn(file)).toEqual(["a"]);
    await rmdir(blocker);
    await sink.commit!(2);
    await sink.close();
    expect(await idsIn(file)).toEqual(["a", "b", "c"]);
    await expectIntact(file);
  });

  it("never truncates bytes another writer appended: it stops for good instead", async () => {
    const file = newFile();
    const sink = await createExactlyOnceJsonlSink(file);
    await sink.write!([message("a")], context(1));
    await sink.commit!(1);
    await writeFile(file, '{"id":"intruder"}\n', { flag: "a" });
    await sink.write!([message("b")], context(2));
    const error = await sink.commit!(2).catch((caught: unknown) => caught);
    expect((error as JsonlSinkError).code).toBe("JSONL_CONCURRENT_WRITER");
    expect((error as JsonlSinkError).retriable).toBe(false);
    // Retrying cannot help: the same error, at once, and the intruder's bytes are kept.
    expect(((await sink.commit!(2).catch((caught: unknown) => caught)) as JsonlSinkError).code).toBe("JSONL_CONCURRENT_WRITER");
    await sink.close();
    expect(await idsIn(file)).toEqual(["a", "intruder"]);
  });
});
