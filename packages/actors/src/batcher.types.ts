import type { ReadEntry } from "./message.js";

export interface BatcherInput {
  readonly vertex: string;
  readonly partition: number;
  /** The open epoch counts as full for this partition at this many messages. */
  readonly readBatchSize: number;
}

export interface BatcherContext {
  readonly vertex: string;
  readonly partition: number;
  readonly readBatchSize: number;
  /**
   * What the reader handed over while the current epoch is open, batch by batch as it came
   * (joined once, when the epoch closes, rather than copied on every hand-over).
   */
  readonly open: readonly (readonly ReadEntry[])[];
  /** Entries in `open`. */
  readonly openCount: number;
  readonly fullReported: boolean;
  readonly sealedEpochs: number;
  /** The latest watermark the reader handed over (monotone, kept across epochs). */
  readonly watermark: number | undefined;
  /** The watermark the last sealed epoch carried: the open epoch has news when `watermark` is newer. */
  readonly sealedWatermark: number | undefined;
}
