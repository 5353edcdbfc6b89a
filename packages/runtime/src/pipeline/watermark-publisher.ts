/**
 * Publishes a vertex's watermark downstream (issue #13, event-time contract §1 "Publishing"):
 * after an epoch of input partition `p` commits with watermark `w`, a mark
 * `{ writer: "<vertex>/<p>", processor, watermark: w }` goes in-band into every partition of
 * every downstream buffer, after the data this vertex wrote before it.
 *
 *   VertexIO.ack(p, e, offsets, w) ──▶ publish(p, w) ──▶ advanced, or keepAliveMs since the last mark?
 *                                                          └─▶ writeWatermark(q, mark) for every target, every q
 *
 * - Never lower, unless capped: a mark carries the highest watermark asked for, or less while
 *   `cap(partition)` is lower — a suspected dead processor's entries of that input partition
 *   (pending-cap.ts). A capped mark may be lower than the previous one: a reader's watermark never
 *   goes back (buffer/watermark-view.ts), the lower mark only keeps it from passing those entries.
 * - Keep-alive: the same watermark again once `keepAliveMs` passed, so a reader does not take a
 *   live but quiet processor for dead (`processorTimeoutMs`); {@link WatermarkPublisher.keepAlive}
 *   does it for partitions whose epochs stopped committing.
 * - Errors: a retriable buffer error is retried like a control write (retry-control-write.ts),
 *   until it succeeds or the run is over. Any other error, or one after cancellation, is counted
 *   (`failed`) and logged, never thrown: a lost mark only *delays* the watermark downstream
 *   (readers keep the older mark, which is still true), it never makes a message late. The
 *   writer's last mark stays unrecorded, so the next publish or keep-alive sends it again.
 * - Hold: before a worker's first read of a partition, `hold` sends `HOLD_MARK` for its writer, so
 *   readers downstream wait for this worker's first mark before passing what it forwards (another
 *   worker of the vertex may already mark the same writer higher). The first publish replaces it.
 * - Marks of one writer go out one at a time, in order: a later, higher mark never overtakes.
 *   A mark carries the highest watermark asked for when it starts, so publishes that queue up
 *   behind a slow write coalesce into one mark.
 */
import type { WatermarkMark } from "../buffer/index.js";
import type { Logger } from "../observability/logger.js";
import { monotonicNow } from "../time/monotonic-clock.js";
import { HOLD_MARK } from "../time/watermark.js";
import { retryControlWrite } from "./retry-control-write.js";

/** What the publisher needs of a downstream buffer (a `PartitionedBuffer` has it). */
export interface WatermarkTarget {
  readonly name: string;
  readonly partitions: number;
  writeWatermark(partition: number, mark: WatermarkMark): Promise<void>;
}

export interface WatermarkPublisherOptions {
  /** The publishing vertex: writers are `"<vertex>/<input partition>"`. */
  readonly vertex: string;
  /** This process's consumer name: readers track each processor's marks apart. */
  readonly processor: string;
  /** Every downstream buffer of the vertex. */
  readonly targets: readonly WatermarkTarget[];
  /** Re-send an unchanged watermark after this long (ms). Keep it well below the readers' processorTimeoutMs. */
  readonly keepAliveMs?: number;
  /** Elapsed-time clock in ms (default {@link monotonicNow}); tests pass a fake. */
  readonly clock?: () => number;
  readonly logger: Logger;
  /** True once the run is over: retries stop. Default: never. */
  readonly cancelled?: () => boolean;
  /** First retry wait in ms (default retry-control-write's). */
  readonly retryInitialMs?: number;
  /**
   * An upper bound on input partition `partition`'s marks, read at each send (undefined: none).
   * When it changes, call {@link WatermarkPublisher.keepAlive}: a changed mark is sent at once.
   */
  readonly cap?: (partition: number) => number | undefined;
}

export interface WatermarkPublisherStats {
  /** Marks written (one per target partition). */
  readonly published: number;
  /** Marks given up on after a non-retriable error or cancellation. */
  readonly failed: number;
}

export interface WatermarkPublisher {
  /** Publishes input partition `partition`'s committed watermark (capped), if the mark changed or the keep-alive is due. */
  publish(partition: number, watermark: number): Promise<void>;
  /**
   * Marks input partition `partition`'s writer as held (`HOLD_MARK`) until its first publish, and
   * keeps the hold alive like a mark; a no-op once the partition published or held.
   */
  hold(partition: number): Promise<void>;
  /** Re-sends every writer's mark that changed (its cap) or whose keep-alive is due (call it on a timer). */
  keepAlive(): Promise<void>;
  /** The last watermark published for `partition`, capped (undefined before the first). */
  published(partition: number): number | undefined;
  stats(): WatermarkPublisherStats;
}

interface WriterState {
  /** Highest watermark asked for: a mark never carries less, unless capped. */
  highest: number;
  /** Last watermark every target partition accepted, and when. */
  sent: number | undefined;
  sentAt: number;
  /** The mark being written now: the next waits for it. */
  queue: Promise<void>;
  /** Sends queued and not yet done: a keep-alive adds none while one waits (a Redis outage would pile them up). */
  inFlight: number;
}

/**
 * @example
 * ```ts
 * const publisher = createWatermarkPublisher({ vertex: "map", processor: "w1", targets: [outBuffer], logger });
 * await publisher.publish(0, 1_700_000_000_000); // writes { writer: "map/0", processor: "w1", watermark } to every outBuffer partition
 * ```
 */
export function createWatermarkPublisher(options: WatermarkPublisherOptions): WatermarkPublisher {
  const keepAliveMs = options.keepAliveMs ?? 1_000;
  const clock = options.clock ?? monotonicNow;
  const cancelled = options.cancelled ?? (() => false);
  const writers = new Map<number, WriterState>();
  let published = 0;
  let failed = 0;

  const markOf = (state: WriterState, partition: number) => Math.min(state.highest, options.cap?.(partition) ?? Number.POSITIVE_INFINITY);
  const due = (state: WriterState, watermark: number, now: number) => state.sent === undefined || watermark !== state.sent || now - state.sentAt >= keepAliveMs;

  const writeOne = async (target: WatermarkTarget, partition: number, mark: WatermarkMark): Promise<boolean> => {
    try {
      await retryControlWrite(() => target.writeWatermark(partition, mark), {
        what: `watermark ${mark.watermark} of '${mark.writer}' into ${target.name}[${partition}]`,
        logger: options.logger,
        cancelled,
        ...(options.retryInitialMs === undefined ? {} : { initialMs: options.retryInitialMs }),
      });
      published += 1;
      return true;
    } catch (error) {
      failed += 1;
      options.logger.warn("a watermark mark was not written: the watermark downstream is delayed until the next mark", {
        writer: mark.writer,
        buffer: target.name,
        partition,
        watermark: mark.watermark,
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
  };

  const send = async (state: WriterState, partition: number) => {
    const now = clock();
    const watermark = markOf(state, partition);
    if (!due(state, watermark, now)) return;
    const mark: WatermarkMark = { writer: `${options.vertex}/${partition}`, processor: options.processor, watermark };
    const writes = options.targets.flatMap((target) => Array.from({ length: target.partitions }, (_, q) => writeOne(target, q, mark)));
    const results = await Promise.all(writes);
    if (results.every(Boolean)) {
      state.sent = mark.watermark;
      state.sentAt = now;
    }
  };

  const enqueue = (partition: number, state: WriterState) => {
    state.inFlight += 1;
    state.queue = state.queue.then(() => send(state, partition)).finally(() => (state.inFlight -= 1));
    return state.queue;
  };

  return {
    publish(partition, watermark) {
      let state = writers.get(partition);
      if (state === undefined) {
        state = { highest: watermark, sent: undefined, sentAt: 0, queue: Promise.resolve(), inFlight: 0 };
        writers.set(partition, state);
      }
      state.highest = Math.max(state.highest, watermark);
      return enqueue(partition, state);
    },
    hold(partition) {
      if (writers.has(partition)) return writers.get(partition)!.queue;
      const state: WriterState = { highest: HOLD_MARK, sent: undefined, sentAt: 0, queue: Promise.resolve(), inFlight: 0 };
      writers.set(partition, state);
      return enqueue(partition, state);
    },
    async keepAlive() {
      await Promise.all([...writers].map(([partition, state]) => (state.inFlight > 0 ? state.queue : enqueue(partition, state))));
    },
    published: (partition) => writers.get(partition)?.sent,
    stats: () => ({ published, failed }),
  };
}
