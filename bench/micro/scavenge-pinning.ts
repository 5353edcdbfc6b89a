/**
 * Issue 12, session 10: the two things that kept Weir's messages alive across scavenges, each
 * alone. Every round builds a batch of 500 small objects, hands it to one "attempt" that lives
 * across a `setImmediate` (as a sink attempt lives across its sink's promise), then drops it: the
 * batch is garbage after one event-loop turn, and nothing should be promoted to the old generation.
 *
 *   --mode getter   the attempt's context is an object literal with `get signal()` closing over the
 *                   batch (what `sinkFunctionAttempt` did): every batch is promoted
 *   --mode class    the same context as a class with the getter on its prototype: nothing is
 *   --mode action   each batch goes through an XState machine whose transition runs a custom action
 *                   (a no-op): XState's `microstep` pushes each step's actions into a fresh array,
 *                   V8 pretenures that array, and the dead old arrays hold the events (and batches)
 *                   until the next full GC; `--no-allocation-site-pretenuring` makes it go away
 *   --mode assign   the same machine with an `assign` only (no action goes through the executor)
 *
 *   node bench/.build/micro/scavenge-pinning.js --mode getter [--rounds 4000]
 *   node --no-allocation-site-pretenuring bench/.build/micro/scavenge-pinning.js --mode action
 */
import { GCProfiler } from "node:v8";
import { assign, createActor, setup } from "xstate";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1]! : fallback);
const mode = option("mode", "getter");
const rounds = Number(option("rounds", "4000"));

type Batch = readonly { readonly id: string; readonly v: number }[];

class AttemptContext {
  #controller: number | undefined = undefined;
  constructor(readonly batch: Batch) {}
  get signal(): number {
    return (this.#controller ??= this.batch.length);
  }
}

function literalContext(batch: Batch): { readonly signal: number } {
  let controller: number | undefined;
  return {
    get signal() {
      return (controller ??= batch.length);
    },
  };
}

const noop = () => undefined;
const machine = setup({ types: { context: {} as { last: number }, events: {} as { type: "batch"; batch: Batch } }, actions: { noop } }).createMachine({
  context: { last: 0 },
  on: {
    batch:
      mode === "action"
        ? { actions: "noop" }
        : { actions: assign({ last: ({ event }) => event.batch.length }) },
  },
});
const actor = createActor(machine).start();

function attempt(batch: Batch): Promise<void> {
  if (mode === "getter" || mode === "class") {
    const context = mode === "getter" ? literalContext(batch) : new AttemptContext(batch);
    return new Promise((resolve) => setImmediate(() => resolve(void context)));
  }
  actor.send({ type: "batch", batch });
  return new Promise((resolve) => setImmediate(resolve));
}

const profiler = new GCProfiler();
profiler.start();
for (let round = 0; round < rounds; round += 1) {
  const batch = Array.from({ length: 500 }, (_, i) => ({ id: `m${round * 500 + i}`, v: i }));
  await attempt(batch);
}
let promoted = 0;
let scavenges = 0;
const oldSpace = (stats: { heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[] }) =>
  stats.heapSpaceStatistics.find((space) => space.spaceName === "old_space")!.spaceUsedSize;
for (const gc of profiler.stop().statistics) {
  if (gc.gcType !== "Scavenge") continue;
  scavenges += 1;
  promoted += oldSpace(gc.afterGC) - oldSpace(gc.beforeGC);
}
console.log(JSON.stringify({ mode, rounds, scavenges, promotedMb: Math.round(promoted / 1e5) / 10 }));
