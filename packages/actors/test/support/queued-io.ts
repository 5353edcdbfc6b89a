/**
 * A whole vertex run over in-memory queues, for the tests that follow entries from their reads to
 * their acks through the real machines: the queues a test reads from, the `readBatch` that serves
 * them and the run itself with its acks recorded. Exists because a dozen reader, batcher, session
 * and supervisor tests wrote these same lines each.
 */
import type { AckInput, ReadBatchInput, ReadBatchOutput, SinkFunction, SupervisorInput, SupervisorOutput } from "@weir/actors";
import { createActor, toPromise, type InspectionEvent } from "xstate";
import { message } from "./messages.js";
import { wiredSupervisor, type SupervisorWiring } from "./wired-supervisor.js";

/** An entry a queue holds: offset `<p>-<i>`, message id `p<p>-<i>`. */
export interface QueuedEntry {
  readonly offset: string;
  readonly message: ReturnType<typeof message>;
}

/** One queue per partition, `sizes[p]` entries in partition p. */
export function partitionQueues(sizes: readonly number[]): QueuedEntry[][] {
  return sizes.map((size, p) => Array.from({ length: size }, (_, i) => ({ offset: `${p}-${i}`, message: message(`p${p}-${i}`) })));
}

/** `partitions` queues of `perPartition` entries each. */
export function evenQueues(partitions: number, perPartition: number): QueuedEntry[][] {
  return partitionQueues(Array.from({ length: partitions }, () => perPartition));
}

export interface QueuedReadOptions {
  /** At most this many entries per read (per partition when a function); by default the whole credit. */
  readonly chunk?: number | ((partition: number) => number);
  /** Awaited before each read of new entries: data arriving between reads, not all at once. */
  readonly pause?: () => Promise<unknown>;
}

/**
 * A `readBatch` serving each partition's queue in order: nothing pending (a first start), at most
 * `chunk` entries per read, and the end of stream with the read that empties the queue.
 */
export function queuedReads(queues: QueuedEntry[][], { chunk, pause }: QueuedReadOptions = {}): (input: ReadBatchInput) => Promise<ReadBatchOutput> {
  return async (input) => {
    if (input.fromPending) return { entries: [], endOfStream: false };
    if (pause !== undefined) await pause();
    const queue = queues[input.partition]!;
    const limit = chunk === undefined ? input.max : Math.min(input.max, typeof chunk === "number" ? chunk : chunk(input.partition));
    const entries = queue.splice(0, limit);
    return { entries, endOfStream: queue.length === 0 };
  };
}

export interface WiredRun {
  /** The reader's reads (`queuedReads` for most tests). */
  readonly readBatch: (input: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;
  readonly input: SupervisorInput;
  readonly inspect?: (inspection: InspectionEvent) => void;
  /** The sink session's write function; by default every message is accepted. */
  readonly write?: SinkFunction;
  /** Called with each ack after it is recorded (a test counting commits, say). */
  readonly onAck?: (input: AckInput) => void;
  /** A replacement batcher; by default the real one. */
  readonly batcher?: SupervisorWiring["batcher"];
}

/** Runs a wired supervisor to its end: its output, and every acked offset in ack order. */
export async function runWired({ readBatch, input, inspect, write, onAck, batcher }: WiredRun): Promise<{ output: SupervisorOutput; acked: string[] }> {
  const acked: string[] = [];
  const machine = wiredSupervisor({
    readBatch,
    ackOffsets: async (ack) => {
      acked.push(...ack.offsets);
      onAck?.(ack);
    },
    ...(write === undefined ? {} : { write }),
    ...(batcher === undefined ? {} : { batcher }),
  });
  const actor = createActor(machine, { input, ...(inspect === undefined ? {} : { inspect }) }).start();
  return { output: await toPromise(actor), acked };
}
