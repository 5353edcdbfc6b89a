/**
 * The reads of a reduce vertex on a durable buffer (issue #13, fault scenario "reduce"). Only the
 * lease holder reads a reduce vertex's input, but a holder taken over while it still ran (Redis
 * down past the lease's ttl) may read a few more entries before it notices: they sit pending for
 * it, its commit of them is refused (reduce/window-commit-script.ts), and the new holder would
 * claim them only after claimIdle — by then its watermark, from marks written after them, has
 * passed their event times, and they would count as late (I7 broken, windows short).
 *
 * So a batch that carries a watermark also takes over every entry another consumer holds pending
 * on the partition (the claim script takes only other consumers' entries): they join the batch,
 * hence the epoch that commits that watermark, and are absorbed against the watermark committed
 * before it. Entries before a mark in the stream are delivered before it, so whatever an old
 * holder took before this batch's marks is pending by the time this read returns.
 */
import type { ReadBatchInput, ReadBatchOutput } from "@weir/actors";
import type { PartitionedBuffer } from "../buffer/index.js";

/** Most entries taken over per read (an old holder reads at most a few batches before it stops). */
const ADOPT_MAX = 1_000;

export type ReduceRead = (request: ReadBatchInput, signal: AbortSignal) => Promise<ReadBatchOutput>;

/**
 * `read` plus, when its batch carries a watermark, the entries other consumers hold pending.
 * `onAdopted` is told how many were taken (logged and counted by the caller).
 *
 * @example
 * ```ts
 * const read = withForeignPendingAdopted(plainRead, input, consumer, (partition, count) => log.warn("adopted", { partition, count }));
 * ```
 */
export function withForeignPendingAdopted(read: ReduceRead, input: PartitionedBuffer, consumer: string, onAdopted: (partition: number, count: number) => void): ReduceRead {
  if (input.pendingDeliveries === undefined) return read; // memory: one process, nobody else reads
  return async (request, signal) => {
    const batch = await read(request, signal);
    if (batch.watermark === undefined) return batch;
    const adopted = await input.claimIdle(request.partition, consumer, 0, ADOPT_MAX);
    if (adopted.length === 0) return batch;
    onAdopted(request.partition, adopted.length);
    return { ...batch, entries: [...batch.entries, ...adopted], endOfStream: false };
  };
}
