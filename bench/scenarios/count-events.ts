/**
 * `--count-events` for weir.ts: an XState inspector that counts events (by type), microsteps (by
 * machine: a step beyond the machine's events is an eventless one) and actors created (by logic
 * id), and prints the totals to stderr at the end. The inspector itself costs time: never combine
 * it with a measured run.
 */
import type { InspectionEvent } from "xstate";

export interface EventCounter {
  readonly inspect: (event: InspectionEvent) => void;
  /** Writes the counts, each also divided by the run's partition-epochs (one `sink.epochDone` each). */
  print(): void;
}

export function createEventCounter(): EventCounter {
  const events = new Map<string, number>();
  const actors = new Map<string, number>();
  const microstepsBy = new Map<string, number>();
  // How full the partition-epochs are: `batcher.eot` frames by their count (issue 12, session 11).
  const eotCounts = new Map<string, number>();
  let microsteps = 0;
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  return {
    inspect(event) {
      if (event.type === "@xstate.microstep") {
        microsteps += 1;
        // Which machine took the step (its `id`): where the eventless steps come from.
        const logic = (event.actorRef as unknown as { logic?: { id?: unknown } }).logic;
        bump(microstepsBy, typeof logic?.id === "string" ? logic.id : "(other)");
      } else if (event.type === "@xstate.event") {
        bump(events, event.event.type.replace(/\.\d+(\.|$)/g, ".*$1"));
        if (event.event.type === "batcher.eot") bump(eotCounts, String((event.event as { count?: unknown }).count));
      }
      else if (event.type === "@xstate.actor") {
        // `src` is the name an invoke or spawn gave the logic (e.g. "readerIo", "sinkWriter"); not on the public ActorRefLike type.
        const src = (event.actorRef as unknown as { src?: unknown }).src;
        bump(actors, typeof src === "string" ? src : "(inline)");
      }
    },
    print() {
      const epochs = events.get("sink.epochDone") ?? 1;
      const total = (map: Map<string, number>) => [...map.values()].reduce((sum, n) => sum + n, 0);
      const lines = [`${epochs} partition-epochs; per partition-epoch: ${(total(events) / epochs).toFixed(1)} events, ${(microsteps / epochs).toFixed(1)} microsteps, ${(total(actors) / epochs).toFixed(2)} actors created`];
      for (const [title, map] of [["events", events], ["microsteps by machine", microstepsBy], ["actors created", actors], ["batcher.eot by count", eotCounts]] as const) {
        lines.push(`${title}:`);
        for (const [key, n] of [...map].sort((a, b) => b[1] - a[1])) lines.push(`  ${(n / epochs).toFixed(2).padStart(7)}  ${n.toString().padStart(8)}  ${key}`);
      }
      process.stderr.write(`${lines.join("\n")}\n`);
    },
  };
}
