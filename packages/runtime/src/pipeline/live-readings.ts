/**
 * What a pipeline reports while it runs, read by the metrics endpoint, the dashboard and the CLI:
 * the live counters, and copies of the committed watermarks, rate limits, discards and the
 * buffers' fill.
 */
import type { Pipeline } from "./pipeline-options.js";
import type { RunControl } from "./create-pipeline-run.js";

export type LiveReadings = Pick<Pipeline, "counts" | "watermarks" | "rateLimits" | "discards" | "bufferUsage">;

export function liveReadings(run: RunControl): LiveReadings {
  return {
    counts: () => Object.fromEntries(run.counts),
    watermarks: () => Object.fromEntries(Object.entries(run.watermarks).map(([vertex, perPartition]) => [vertex, { ...perPartition }])),
    rateLimits: () => Object.fromEntries([...run.rateLimits].map(([vertex, rate]) => [vertex, rate.limiter.status()])),
    discards: () => Object.fromEntries([...run.discarded].map(([vertex, perPartition]) => [vertex, [...perPartition]])),
    async bufferUsage() {
      // A closed buffer (the run ended) or an unreachable Redis has nothing to report right now.
      if (run.isFinished()) return [];
      const usages = [...run.buffers].flatMap(([vertex, buffer]) =>
        Array.from({ length: buffer.partitions }, (_, partition) =>
          buffer.usage(partition).then(
            (usage) => [{ vertex, partition, usage }],
            () => [],
          ),
        ),
      );
      return (await Promise.all(usages)).flat();
    },
  };
}
