/**
 * A source's watermark per partition (issue #13, DESIGN §8): each read's result carries
 * `watermark`, the event time below which this partition promises no more on-time messages.
 *
 *   read(p) ──▶ inner source ──▶ entries ──▶ max event time − maxDelay ──┐
 *                                 none for `threshold` (idleSource) ──▶ +incrementBy per stepInterval,
 *                                                                       capped at wall-now − maxDelay
 *                                 endOfStream ──▶ END_OF_TIME ─────────┴──▶ max(previous, that)
 *
 * Monotone: a partition's watermark never goes back, whatever event times arrive (an entry older
 * than it is late; the reduce vertex that meets it says so). Idle time is measured on the
 * monotonic clock (a stepped wall clock must not fake or hide idleness); watermark values are
 * wall-clock ms, like event times.
 */
import type { ReadBatchOutput } from "@weir/actors";
import type { SourceConnector } from "../connectors/source-connector.js";
import type { WatermarkSpec } from "../spec/reduce-spec.js";
import { monotonicNow } from "./monotonic-clock.js";
import { wallNow } from "./wall-clock.js";
import { END_OF_TIME } from "./watermark.js";

/** A read's result with the partition's watermark after it; absent until the partition has one. */
export type WatermarkedReadBatch = ReadBatchOutput & { readonly watermark?: number };

/** A source whose reads carry their partition's watermark. */
export interface WatermarkedSource extends SourceConnector {
  read(partition: number, options: { readonly max: number; readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<WatermarkedReadBatch>;
  /** The partition's watermark now (undefined before its first data or idle step). */
  watermark(partition: number): number | undefined;
}

export interface SourceWatermarkOptions {
  /** `spec.watermark` (durations in ms). */
  readonly watermark: WatermarkSpec;
  /** Elapsed-time clock in ms (default {@link monotonicNow}); tests pass a fake. */
  readonly monotonic?: () => number;
  /** Wall-clock ms for the idle cap (default {@link wallNow}); tests pass a fake. */
  readonly wallNow?: () => number;
}

interface PartitionWatermark {
  /** Undefined until the first data or idle step. */
  watermark: number | undefined;
  /** Monotonic time of the last read that brought data (or of the first read). */
  lastDataAt: number | undefined;
  /** Idle steps taken since `lastDataAt`. */
  idleSteps: number;
}

/**
 * Wraps `source` so each read carries its partition's watermark.
 *
 * @example
 * ```ts
 * const source = withSourceWatermark(createGeneratorSource("in", 2, generator), { watermark: { maxDelay: 2_000 } });
 * const batch = await source.read(0, { max: 100, timeoutMs: 50, signal });
 * batch.watermark; // latest event time of partition 0 so far, minus 2 s
 * ```
 */
export function withSourceWatermark(source: SourceConnector, options: SourceWatermarkOptions): WatermarkedSource {
  const monotonic = options.monotonic ?? monotonicNow;
  const wall = options.wallNow ?? wallNow;
  const { maxDelay, idleSource } = options.watermark;
  const states: PartitionWatermark[] = Array.from({ length: source.partitions }, () => ({ watermark: undefined, lastDataAt: undefined, idleSteps: 0 }));

  const advance = (state: PartitionWatermark, candidate: number) => {
    state.watermark = state.watermark === undefined ? candidate : Math.max(state.watermark, candidate);
  };

  /** Idle steps due since the last data; each adds `incrementBy`, never past wall-now − maxDelay. */
  const stepIdle = (state: PartitionWatermark, now: number) => {
    if (idleSource === undefined || state.lastDataAt === undefined) return;
    const idleFor = now - state.lastDataAt;
    if (idleFor < idleSource.threshold) return;
    const due = 1 + Math.floor((idleFor - idleSource.threshold) / idleSource.stepInterval);
    if (due <= state.idleSteps) return;
    const steps = due - state.idleSteps;
    state.idleSteps = due;
    const cap = wall() - maxDelay;
    // A partition that never had data has nothing to step from: it starts at the cap, the only
    // bound the spec gives, or it would hold every window downstream open for ever.
    const next = state.watermark === undefined ? cap : Math.min(state.watermark + steps * idleSource.incrementBy, cap);
    advance(state, next);
  };

  const observe = (partition: number, batch: ReadBatchOutput): WatermarkedReadBatch => {
    const state = states[partition]!;
    const now = monotonic();
    state.lastDataAt ??= now;
    if (batch.entries.length > 0) {
      let latest = Number.NEGATIVE_INFINITY;
      for (const entry of batch.entries) if (entry.message.eventTime > latest) latest = entry.message.eventTime;
      if (Number.isFinite(latest)) advance(state, latest - maxDelay);
      state.lastDataAt = now;
      state.idleSteps = 0;
    } else {
      stepIdle(state, now);
    }
    if (batch.endOfStream) state.watermark = END_OF_TIME;
    return state.watermark === undefined ? batch : { ...batch, watermark: state.watermark };
  };

  return {
    partitions: source.partitions,
    async read(partition, readOptions) {
      return observe(partition, await source.read(partition, readOptions));
    },
    ack: (partition, offsets) => source.ack(partition, offsets),
    close: () => source.close(),
    watermark: (partition) => states[partition]?.watermark,
  };
}
