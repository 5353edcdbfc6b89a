/**
 * A trial of two map replicas between a bounded generator and a sink that is never faulted
 * (faults/fixtures/fault-sink.mjs counts every delivery), with real signals aimed at the
 * replicas while they hold entries:
 *
 * - `kill`: SIGKILL a replica `faults` times, each time restarting it under the same
 *   `--replica` (it re-reads its pending entries; the other may claim them first). Issue #10
 *   item 1: keyless messages re-forwarded after a kill must land on the partition whose dedup
 *   set saw them.
 * - `zombie`: SIGSTOP a replica while it holds entries, keep it frozen until the other replica
 *   has claimed them and finished the whole vertex, then SIGCONT it. Issue #10 item 8: what it
 *   then fails to write was written by the other replica, and its summary must not call it dropped.
 *
 *   in (generator) ──▶ [map × 4] ──▶ map/a, map/b (cat) ──▶ [out × 4] ──▶ out (fault-sink)
 */
import {
  outputFigures, pendingOf, protocolErrorsOf, seededRandom, sleep, startWorker, waitFor, writeSpec,
  type Exit, type ScenarioFixture, type Worker,
} from "./harness.js";

export interface MapReplicaTrialOptions {
  readonly fixture: ScenarioFixture;
  readonly mode: "kill" | "zombie";
  readonly seed: number;
  readonly total: number;
  /** Generator rate per second: the run lasts about total / rpu seconds. */
  readonly rpu: number;
  /** Signals aimed at a replica (kill mode; zombie mode freezes once). */
  readonly faults: number;
  /** Distinct keys of the generator's messages; 0 (default) sends them without keys. */
  readonly keyCount?: number;
}

export interface VertexSummary {
  readonly read: number;
  readonly written: number;
  readonly acked: number;
  readonly ok: number;
  readonly fallback: number;
  readonly dropped: number;
  readonly deduped?: number;
}

export interface MapReplicaTrialResult {
  readonly figures: Awaited<ReturnType<typeof outputFigures>>;
  /** Exits of the workers that ran to the end (the killed ones are not among them). */
  readonly exits: readonly Exit[];
  readonly protocolErrors: number;
  /** Signals that hit a replica holding entries. */
  readonly faultsDone: number;
  /** The map vertex's `--json` summary of each replica that ran to the end, by label. */
  readonly mapSummaries: ReadonlyMap<string, VertexSummary>;
  /** Zombie mode: the frozen replica's exit, after SIGCONT. */
  readonly zombie?: Exit;
}

const PIPELINE = "mr";

export async function runMapReplicaTrial(options: MapReplicaTrialOptions): Promise<MapReplicaTrialResult> {
  const { fixture, total } = options;
  const rng = seededRandom(options.seed);
  const prefix = fixture.prefix(PIPELINE);
  const file = await writeSpec({
    dir: fixture.dir, name: PIPELINE, prefix, redisUrl: fixture.url, total, rpu: options.rpu, claimIdle: "1s",
    keyCount: options.keyCount ?? 0, udf: "{ builtin: { name: cat } }",
    // The kills are aimed at whatever a replica holds, and once a batch's first death isolates its
    // suspects, at one message at a time: by the poison rule (maxDeliveries, default 3) an innocent
    // message caught by three of them goes to the fallback. This trial is about dedup, not poison.
    limits: "readBatchSize: 50, readTimeout: 20ms, maxDeliveries: 1000",
  });
  const env = { FAULT_SINK_URL: fixture.url, FAULT_SINK_PREFIX: prefix };
  const args = (replica: string, vertices: string) => [file, "--vertices", vertices, "--replica", replica];
  const sink = startWorker("out", args("out", "out"), env);
  const replicas = new Map<string, Worker>([
    ["a", startWorker("map/a", args("a", "map"), env)],
    ["b", startWorker("map/b", args("b", "map"), env)],
  ]);
  const source = startWorker("in/src", args("src", "in"), env);
  const holding = (name: string) => pendingOf(fixture.redis, prefix, PIPELINE, "map", `${PIPELINE}-${name}`);
  const delivered = async () => Number((await fixture.redis.get(`${prefix}:count`)) ?? 0);

  let faultsDone = 0;
  let zombie: Promise<Exit> | undefined;
  const rounds = options.mode === "kill" ? options.faults : 1;
  for (let round = 0; round < rounds; round += 1) {
    // The seeded pick is asked first; the other replica is taken when it is the one holding entries.
    const preferred = rng.pick(["a", "b"] as const);
    const order = preferred === "a" ? (["a", "b"] as const) : (["b", "a"] as const);
    // Spread the faults over the run: the k-th once the sink has seen k/(rounds+1) of the messages.
    const mark = Math.floor((total * (round + 1)) / (rounds + 2));
    await waitFor(`the sink to pass ${mark} deliveries`, async () => (await delivered()) >= mark, 120_000);
    for (const name of order) await waitFor(`map/${name} to start`, () => replicas.get(name)!.stderr().includes("pipeline started"), 60_000);
    // The signal must find a replica holding entries (read, maybe written downstream, not acked);
    // a run that ends first (every message delivered, or both replicas done) ends the faults.
    // Either replica will do: on a busy machine one replica's epochs can be acked between every
    // look at its pending list, and waiting for one named replica left trials without a fault.
    const live = (name: "a" | "b") => replicas.get(name)!.child.exitCode === null;
    const holder = async () => {
      for (const name of order) if (live(name) && (await holding(name)) > 0) return name;
      return undefined;
    };
    const over = async () => !order.some(live) || (await delivered()) >= total;
    let name: "a" | "b" | undefined;
    await waitFor("a map replica to hold entries", async () => (name = await holder()) !== undefined || (await over()), 60_000);
    if (name === undefined) break;
    const victim = replicas.get(name)!;
    await sleep(rng.int(0, 20));
    if (options.mode === "kill") {
      victim.child.kill("SIGKILL");
      await victim.exited;
      faultsDone += 1;
      replicas.set(name, startWorker(`map/${name}#${round + 1}`, args(name, "map"), env));
    } else {
      victim.child.kill("SIGSTOP");
      faultsDone += 1;
      const other = replicas.get(name === "a" ? "b" : "a")!;
      // Frozen until the other replica has claimed its entries and finished the whole vertex.
      await waitFor("the live replica to finish the map vertex", async () => other.child.exitCode !== null || other.child.signalCode !== null, 120_000);
      victim.child.kill("SIGCONT");
      replicas.delete(name);
      zombie = victim.exited;
    }
  }
  const finished = [...replicas.values()];
  const exits = await Promise.all([source.exited, sink.exited, ...finished.map((worker) => worker.exited)]);
  const zombieExit = zombie === undefined ? undefined : await zombie;
  const mapSummaries = new Map<string, VertexSummary>();
  finished.forEach((worker, i) => {
    const summary = vertexSummary(exits[i + 2]!, "map");
    if (summary !== undefined) mapSummaries.set(worker.label, summary);
  });
  if (zombieExit !== undefined) {
    const summary = vertexSummary(zombieExit, "map");
    if (summary !== undefined) mapSummaries.set("zombie", summary);
  }
  return {
    figures: await outputFigures(fixture.redis, prefix, total),
    exits,
    protocolErrors: protocolErrorsOf(zombieExit === undefined ? exits : [...exits, zombieExit]),
    faultsDone,
    mapSummaries,
    ...(zombieExit === undefined ? {} : { zombie: zombieExit }),
  };
}

/** The `--json` summary's counts of `vertex`, from a worker's stdout. */
export function vertexSummary(exit: Exit, vertex: string): VertexSummary | undefined {
  const line = exit.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (line === undefined) return undefined;
  try {
    return (JSON.parse(line) as { vertices?: Record<string, VertexSummary> }).vertices?.[vertex];
  } catch {
    return undefined;
  }
}
