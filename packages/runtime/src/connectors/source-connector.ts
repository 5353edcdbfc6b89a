import type { ReadBatchOutput } from "@weir/actors";

/** A source vertex's input: read batches per partition, ack them once their epoch commits. */
export interface SourceConnector {
  readonly partitions: number;
  read(partition: number, options: { readonly max: number; readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<ReadBatchOutput>;
  ack(partition: number, offsets: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A source with nothing left to send: every read reports end of stream. */
export function endedSource(partitions: number): SourceConnector {
  const ended: ReadBatchOutput = { entries: [], endOfStream: true };
  return { partitions, read: async () => ended, ack: async () => undefined, close: async () => undefined };
}
