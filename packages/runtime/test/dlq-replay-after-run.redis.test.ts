/**
 * Issue #11: redriving the dead letters of a bounded pipeline that has finished. The documented
 * sequence (README "Dead letters") is run as a user runs it, with spawned `weir` processes:
 *
 *   weir run spec.yaml                       # some messages end in the bullmq DLQ
 *   weir dlq replay spec.yaml --vertex out   # back into out's input buffer
 *   weir run spec.yaml                       # processes them, and only them, then ends
 *                                            # (or: weir run spec.yaml --vertices out)
 *
 * `replay` used to be refused ("replay while a run is reading it") and a new run ended at once.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisTestUrl, uniquePrefix } from "./support/redis-server.js";
import { ensureBuilt, startWeir } from "./support/weir-cli.js";

const url = redisTestUrl();

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `weir args` to its end (killed after `guardMs`: code null then). */
async function weir(args: readonly string[], guardMs = 60_000): Promise<Outcome> {
  const run = startWeir(args);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), guardMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

type VertexCounts = { read: number; ok: number; fallback: number; dropped: number };
const summaryOf = (outcome: Outcome) => JSON.parse(outcome.stdout.trim().split("\n").pop()!) as { status: string; vertices: Record<string, VertexCounts> };

// The sink falls back every message whose id ends in 3 or 7 — unless it is a replay — and
// records every message it accepts (id and the id it replays) in a file, one JSON line each.
const SINK = `import { appendFileSync } from "node:fs";
export default async function sink(messages) {
  const results = [];
  for (const message of messages) {
    const replayOf = message.headers["x-weir-replay-of"];
    if (replayOf === undefined && /[37]$/.test(message.id)) {
      results.push({ id: message.id, status: "fallback", reason: "unlucky " + message.id });
      continue;
    }
    appendFileSync(process.env.WEIR_TEST_ACCEPTED, JSON.stringify({ id: message.id, replayOf: replayOf ?? null }) + "\\n");
    results.push({ id: message.id, status: "ok" });
  }
  return results;
}
`;

describe.skipIf(url === undefined).each([
  { redrive: "the whole pipeline", args: [] as string[] },
  { redrive: "the sink vertex alone", args: ["--vertices", "out"] },
])("weir dlq replay after a bounded run has completed, then a run of $redrive", ({ args }) => {
  const prefix = uniquePrefix("replay");
  let dir: string;
  let spec: string;
  let accepted: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-replay-"));
    spec = path.join(dir, "redrive.yaml");
    accepted = path.join(dir, "accepted.jsonl");
    process.env["WEIR_TEST_ACCEPTED"] = accepted;
    await writeFile(path.join(dir, "sink.mjs"), SINK);
    await writeFile(
      spec,
      `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: redrive }
spec:
  buffer: { type: redis, url: "${url}", keyPrefix: ${prefix} }
  limits: { readBatchSize: 20, readTimeout: 20ms }
  vertices:
    - name: in
      source: { generator: { total: 100, rpu: 100000, duration: 1s, msgSize: 16 } }
    - name: out
      partitions: 2
      sink:
        module: { path: ./sink.mjs }
        retryStrategy: { backoff: { interval: 5ms, steps: 1 }, onFailure: fallback }
        fallback: { bullmq: { queue: ${prefix}-dlq } }
  edges:
    - { from: in, to: out }
`,
    );
  });
  afterAll(async () => {
    delete process.env["WEIR_TEST_ACCEPTED"];
    await deleteKeys(url!, `${prefix}*`);
    await deleteKeys(url!, `bull:${prefix}-dlq:*`);
    await rm(dir, { recursive: true, force: true });
  });

  const acceptedLines = async () =>
    (await readFile(accepted, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { id: string; replayOf: string | null });

  it("the documented sequence delivers exactly the dead letters, and none of the other messages again", async () => {
    const first = await weir(["run", spec, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const doomed = Array.from({ length: 100 }, (_, i) => `in-0-${i}`).filter((id) => /[37]$/.test(id));
    expect(summaryOf(first).vertices["out"]).toMatchObject({ read: 100, ok: 100 - doomed.length, fallback: doomed.length });
    const firstAccepted = await acceptedLines();
    expect(firstAccepted).toHaveLength(100 - doomed.length);

    const replay = await weir(["dlq", "replay", spec, "--vertex", "out"]);
    expect(replay.stderr).toBe("");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toBe(`queue ${prefix}-dlq: replayed ${doomed.length} dead letters into their vertices' input buffers (out: ${doomed.length})\n`);

    const second = await weir(["run", spec, ...args, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryOf(second)).toMatchObject({ status: "completed", vertices: { out: { read: doomed.length, ok: doomed.length, fallback: 0 } } });
    if (args.length === 0) expect(summaryOf(second).vertices["in"]!.read).toBe(0);

    const secondAccepted = (await acceptedLines()).slice(firstAccepted.length);
    expect(secondAccepted.map((line) => line.replayOf).sort()).toEqual([...doomed].sort());
    for (const line of secondAccepted) expect(line.id).toMatch(new RegExp(`^${line.replayOf}~replay-\\d+$`));

    const left = await weir(["dlq", "list", spec, "--json"]);
    expect(left.code, left.stderr).toBe(0);
    expect(left.stdout).toBe("");

    // A whole-pipeline run afterwards sends nothing: the source ended, the replayed entries are acked.
    const third = await weir(["run", spec, "--json"]);
    expect(third.code, third.stderr).toBe(0);
    expect(summaryOf(third).vertices["out"]!.read).toBe(0);
    expect(await acceptedLines()).toHaveLength(100);
  }, 180_000);
});
