/**
 * The dead-letter queues of a spec (`fallback: { bullmq }`), read-only, polled every few seconds
 * (listing a queue reads every job, so not on each sample): counts per vertex and the newest
 * letters with their reasons. Fallbacks other than bullmq have no queue to read; their messages
 * show in the partitions' `fallback` counts.
 */
import { DeadLetterQueue, deadLetterQueuesOf, type DeadLetter } from "../connectors/bullmq/dead-letter-queue.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { readPeriodically } from "./periodic-read.js";
import type { DeadLetters, DeadLetterView } from "./dashboard-types.js";

const NEWEST = 20;
export const DEAD_LETTER_POLL_MS = 2_000;

export interface DeadLetterPoller {
  current(): DeadLetters;
  close(): Promise<void>;
}

export const noDeadLetters: DeadLetters = { perVertex: {}, newest: [], error: null };

export function startDeadLetterPoller(spec: PipelineSpec, intervalMs: number = DEAD_LETTER_POLL_MS): DeadLetterPoller {
  const refs = deadLetterQueuesOf(spec);
  if (refs.length === 0) return { current: () => noDeadLetters, close: async () => undefined };
  const queues = refs.map((ref) => DeadLetterQueue.open(ref));
  const polled = readPeriodically(async () => summarize((await Promise.all(queues.map((queue) => queue.list()))).flat()), noDeadLetters, intervalMs);
  return {
    // A failed read keeps the last letters and says why beside them.
    current: () => {
      const error = polled.error();
      return error === null ? polled.current() : { ...polled.current(), error: `the dead-letter queues could not be read: ${error}` };
    },
    async close() {
      polled.stop();
      await Promise.allSettled(queues.map((queue) => queue.close()));
    },
  };
}

export function summarize(letters: readonly DeadLetter[]): DeadLetters {
  const perVertex: Record<string, number> = {};
  for (const letter of letters) if (letter.vertex !== undefined) perVertex[letter.vertex] = (perVertex[letter.vertex] ?? 0) + 1;
  const newest: DeadLetterView[] = [...letters]
    .sort((a, b) => b.enqueuedAt - a.enqueuedAt)
    .slice(0, NEWEST)
    .map((letter) => ({
      vertex: letter.vertex ?? "?",
      id: letter.message.id,
      partition: letter.partition ?? null,
      epoch: letter.epoch ?? null,
      attempts: letter.attempts ?? null,
      reason: letter.reason ?? "(no reason recorded)",
      enqueuedAt: letter.enqueuedAt,
    }));
  return { perVertex, newest, error: null };
}
