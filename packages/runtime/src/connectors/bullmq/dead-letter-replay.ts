/**
 * `weir dlq replay`: dead letters back into the input buffer of the vertex they failed in, so
 * the running pipeline (or its next run) processes them again.
 *
 * ```
 *   for each dead letter:  buffer(vertex).write(partition(keys), [replayed message])  ── written ──▶  remove the job
 * ```
 *
 * - **Only Redis buffers.** A memory buffer lives inside one `weir run` process; a replay from
 *   another process could never reach it.
 * - **Removed only once durable.** A job is removed only after the write reported it written,
 *   so a crash in between leaves the dead letter in the queue, never loses it.
 * - **A replayed message gets a new id**, `<original id>~replay-<enqueuedAt>`, and the header
 *   `x-weir-replay-of: <original id>`. The original id was written to the same buffer when the
 *   message first arrived, and the buffer drops an id it has seen within its dedup window
 *   (`buffer.dedupWindow`, 10 minutes by default) while reporting it written: replaying under
 *   the original id would silently do nothing. The new id is derived from the dead letter's
 *   enqueue time, so it is stable: replaying the same dead letter twice (after a crash between
 *   the write and the removal) is dropped by that same dedup. A message that fails again goes
 *   back to the queue under its new id; its next replay derives its id from the original one.
 * - **Into a finished bounded pipeline too.** The buffer is opened as a replay writer, which is
 *   none of the vertex's upstreams, so its writes are not refused after every upstream declared
 *   end of stream. The markers stay: the vertex's next run (`weir run <spec>`, or
 *   `--vertices <v>`) reads the replayed entries, since a partition ends only once nothing
 *   undelivered is left, then completes — and the source, which ended before, sends nothing
 *   again. A udf vertex that completed has ended its own outputs as well: the replay withdraws
 *   its end-of-stream markers, and those of every vertex downstream of it, so its results flow
 *   on to the sinks in the next run of the pipeline (which must run those vertices: they wait
 *   for their upstreams to end again). A sink vertex has no outputs.
 * - **Partition** as the forwarder chooses it (partition-choice.ts): a hash of the keys, or
 *   of the (new) id for messages without keys.
 */
import type { Message } from "@weir/actors";
import { RedisStreamBuffer, type PartitionedBuffer } from "../../buffer/index.js";
import type { Logger } from "../../observability/logger.js";
import { closeBufferContext, createVertexBuffer, openBufferContext, type BufferContext } from "../../pipeline/buffer-factory.js";
import { createPartitionChooser, type PartitionChooser } from "../../pipeline/partition-choice.js";
import type { PipelineSpec } from "../../spec/pipeline-spec.js";
import { monotonicNow } from "../../time/monotonic-clock.js";
import { BullmqError } from "./bullmq-error.js";
import type { DeadLetter, DeadLetterQueue } from "./dead-letter-queue.js";

/** The header a replayed message carries: the id of the message it replays. */
export const REPLAY_OF_HEADER = "x-weir-replay-of";

export interface ReplayOptions {
  readonly logger?: Logger;
  /** How long to keep retrying a write into a full buffer before giving up on a letter, in ms (default 30 000). */
  readonly fullWaitMs?: number;
}

export interface ReplayedLetter {
  readonly id: string;
  readonly jobId: string;
  readonly vertex: string;
  readonly partition: number;
  /** The id the message was written with (see the module doc). */
  readonly replayId: string;
}

export interface FailedReplay {
  readonly id: string;
  readonly jobId: string;
  readonly vertex: string | undefined;
  readonly error: string;
}

export interface ReplayReport {
  readonly replayed: readonly ReplayedLetter[];
  readonly failed: readonly FailedReplay[];
}

/**
 * The message a dead letter is replayed as (see the module doc).
 *
 * @example
 * ```ts
 * replayedMessage(letter).id; // "in-0-17~replay-1718000000000"
 * ```
 */
export function replayedMessage(letter: DeadLetter): Message {
  const original = letter.message.headers[REPLAY_OF_HEADER] ?? letter.message.id;
  return {
    ...letter.message,
    id: `${original}~replay-${letter.enqueuedAt}`,
    headers: { ...letter.message.headers, [REPLAY_OF_HEADER]: original },
  };
}

/**
 * Writes `letters` back into their vertices' input buffers and removes each one's job from
 * `queue` once written. Never throws for one letter: failures are reported per letter.
 *
 * @throws {BullmqError} `DLQ_REPLAY_UNSUPPORTED` when the spec's buffer is not redis.
 */
export async function replayDeadLetters(
  spec: PipelineSpec,
  queue: DeadLetterQueue,
  letters: readonly DeadLetter[],
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  if (spec.spec.buffer.type !== "redis") {
    throw new BullmqError(
      "DLQ_REPLAY_UNSUPPORTED",
      `pipeline '${spec.metadata.name}' uses the memory buffer, which only its own 'weir run' process can reach; replay needs buffer: { type: redis, url: … }`,
    );
  }
  const fullWaitMs = options.fullWaitMs ?? 30_000;
  const replayed: ReplayedLetter[] = [];
  const failed: FailedReplay[] = [];
  const context: BufferContext = openBufferContext(spec, options.logger);
  const targets = new Map<string, { buffer: PartitionedBuffer; choose: PartitionChooser }>();
  const opened: PartitionedBuffer[] = [];
  const target = async (name: string) => {
    let found = targets.get(name);
    if (found === undefined) {
      const vertex = spec.spec.vertices.find((candidate) => candidate.name === name)!;
      const buffer = createVertexBuffer(context, name, "replay");
      opened.push(buffer);
      await reopenDownstream(spec, context, name, opened);
      found = { buffer, choose: createPartitionChooser(vertex.partitions) };
      targets.set(name, found);
    }
    return found;
  };
  try {
    for (const letter of letters) {
      const fail = (error: string) => failed.push({ id: letter.message.id, jobId: letter.jobId, vertex: letter.vertex, error });
      const vertex = spec.spec.vertices.find((candidate) => candidate.name === letter.vertex);
      if (vertex === undefined || vertex.kind === "source") {
        fail(`pipeline '${spec.metadata.name}' has no vertex '${letter.vertex ?? "?"}' with an input buffer to replay into`);
        continue;
      }
      let into: { buffer: PartitionedBuffer; choose: PartitionChooser };
      try {
        into = await target(vertex.name);
      } catch (error) {
        fail(`could not reopen the vertices downstream of '${vertex.name}': ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const message = replayedMessage(letter);
      const partition = into.choose(message.keys, message.id);
      try {
        if (!(await writeDurably(into.buffer, partition, message, fullWaitMs))) {
          fail(`the input buffer of '${vertex.name}' (partition ${partition}) stayed full for ${fullWaitMs} ms; run the pipeline so it drains, then replay again`);
          continue;
        }
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
        continue;
      }
      try {
        if (!(await queue.remove(letter))) {
          fail(`written to '${vertex.name}', but job ${letter.jobId} is held by a consumer and was not removed; replaying it again is harmless (same id, dropped as a duplicate)`);
          continue;
        }
      } catch (error) {
        fail(`written to '${vertex.name}', but removing job ${letter.jobId} failed: ${error instanceof Error ? error.message : String(error)}; replaying it again is harmless`);
        continue;
      }
      replayed.push({ id: letter.message.id, jobId: letter.jobId, vertex: vertex.name, partition, replayId: message.id });
    }
  } finally {
    await Promise.allSettled(opened.map((buffer) => buffer.close()));
    await closeBufferContext(context);
  }
  return { replayed, failed };
}

/**
 * Withdraws the end-of-stream markers that `name` and every vertex downstream of it left in
 * their outputs' buffers, so the replayed messages' results can be written on to the sinks; each
 * vertex declares its end again when its next run completes. A sink vertex has no outputs:
 * nothing to reopen.
 */
async function reopenDownstream(spec: PipelineSpec, context: BufferContext, name: string, opened: PartitionedBuffer[]): Promise<void> {
  const reached = new Set([name]);
  const queue = [name];
  for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
    for (const edge of spec.spec.edges.filter((candidate) => candidate.from === from)) {
      const downstream = createVertexBuffer(context, edge.to);
      opened.push(downstream);
      if (downstream instanceof RedisStreamBuffer) await downstream.withdrawEndOfStream(from);
      if (!reached.has(edge.to)) {
        reached.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
}

/** Writes one message, waiting (with backoff) while the partition is full. False: still full at the deadline. */
async function writeDurably(buffer: PartitionedBuffer, partition: number, message: Message, fullWaitMs: number): Promise<boolean> {
  const deadline = monotonicNow() + fullWaitMs;
  for (let attempt = 0; ; attempt++) {
    if ((await buffer.write(partition, [message])).written === 1) return true;
    if (monotonicNow() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** attempt, Math.max(1, deadline - monotonicNow()))));
  }
}
