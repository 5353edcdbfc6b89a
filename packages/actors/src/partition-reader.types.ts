import type { ReadEntry } from "./message.js";

export interface PartitionReaderInput {
  readonly vertex: string;
  readonly partition: number;
  /** Most messages one epoch holds for this partition; the reader never reads beyond it. */
  readonly readBatchSize: number;
  /** How long one read may wait for data. */
  readonly readTimeoutMs: number;
  /** Re-read this consumer's own pending entries first (after a restart), then new ones. */
  readonly startWithPending?: boolean;
  /** Consecutive failed reads after which the reader gives up (`failed`). */
  readonly maxReadFailures?: number;
}

/** A read of the reader's `readerIo` actor: the first of a grant (`reader.read`), or one it goes on with. */
export interface ReadBatchInput {
  readonly vertex: string;
  readonly partition: number;
  readonly max: number;
  readonly timeoutMs: number;
  /** `true`: this consumer's pending entries (like `XREADGROUP … 0`); `false`: new ones (`>`). */
  readonly fromPending: boolean;
  /** With `fromPending`: the last offset of the previous pending page; pages go on after it. */
  readonly after?: string;
}

/** What a read answers (`readerIo.batch`). */
export interface ReadBatchOutput {
  readonly entries: readonly ReadEntry[];
  /** The input will never have more: every upstream finished and nothing is left undelivered. */
  readonly endOfStream: boolean;
  /** The reader's watermark of the partition after this read (issue #13); absent without event time. */
  readonly watermark?: number;
}

/** An ack the reader asks its `readerIo` actor for (`reader.ack`). */
export interface AckInput {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  readonly offsets: readonly string[];
  /** The epoch's watermark: committed with the offsets (the runtime publishes it downstream). */
  readonly watermark?: number;
}

export interface SealedEpoch {
  readonly epoch: number;
  readonly offsets: readonly string[];
  readonly watermark?: number;
}

/**
 * The reader's fixed settings, grouped out of the context's top level: every `assign` copies the
 * top-level keys, and past ~16 of them V8 gives the copy a dictionary instead of a hidden class
 * (issue 12; test/context-shape.test.ts).
 */
export interface PartitionReaderSettings {
  readonly readBatchSize: number;
  readonly readTimeoutMs: number;
  readonly maxReadFailures: number;
}

/** Re-reading this consumer's own pending entries (after a restart): where the next page starts. */
export interface PendingPages {
  /** The last pending offset read so far; null before the first page. */
  readonly after: string | null;
}

export interface PartitionReaderContext {
  readonly vertex: string;
  readonly partition: number;
  readonly settings: PartitionReaderSettings;
  /** Set while the pending pages are being read; null once they are over (or never asked for). */
  readonly pending: PendingPages | null;
  /** Handed to the batcher, not yet sealed into an epoch. */
  readonly unsealed: number;
  /** Sealed epochs whose offsets wait for `supervisor.commit`. */
  readonly sealed: readonly SealedEpoch[];
  /**
   * Epochs the supervisor committed, to be acked in order. The head's ack is outstanding exactly
   * while the head is sealed (`sealed` holds it): it is sent in the step that makes it so.
   */
  readonly commitQueue: readonly number[];
  readonly drainRequested: boolean;
  readonly endOfStream: boolean;
  readonly readFailures: number;
  readonly lastError: string | null;
  readonly acked: number;
  /**
   * The highest epoch acked (or completed without an ack), to ignore a repeated commit: an epoch at
   * or below it that is not sealed now was acked. A number, not a list of recent epochs: a list
   * was copied on every ack (issue 12, session 9).
   */
  readonly lastAckedEpoch: number | undefined;
  /** The latest watermark handed to the batcher (monotone); undefined until a read reports one. */
  readonly watermark: number | undefined;
  /** The latest watermark a sealed epoch carried. */
  readonly sealedWatermark: number | undefined;
  /** The latest watermark acked: an empty epoch is acked only to carry a newer one. */
  readonly ackedWatermark: number | undefined;
}
