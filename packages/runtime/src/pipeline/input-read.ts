import type { ReadBatchInput } from "@weir/actors";
import type { PartitionedBuffer, ReadBatch } from "../buffer/index.js";

/** A partition reader's read request, made on the vertex's input buffer as `consumer`. */
export function readInput(input: PartitionedBuffer, consumer: string, request: ReadBatchInput, signal: AbortSignal): Promise<ReadBatch> {
  return input.read(request.partition, {
    consumer,
    max: request.max,
    timeoutMs: request.timeoutMs,
    signal,
    fromPending: request.fromPending,
    ...(request.after === undefined ? {} : { after: request.after }),
  });
}
