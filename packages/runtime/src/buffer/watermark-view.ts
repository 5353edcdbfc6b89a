/**
 * One reader's watermark of one partition, folded from the marks it met (issue #13). Both buffers
 * keep one per (partition, consumer), so they report the same numbers for the same marks.
 *
 * ```
 *   watermark = min over expected writers W of
 *                 min over W's live processors P of P's last mark
 *   live      = P's last mark is less than processorTimeoutMs older than the newest mark met
 * ```
 *
 * Age is measured in the partition's own time — when each mark was written, on the buffer's
 * clock (memory: its monotonic clock; Redis: the stream entry id, which Redis keeps increasing) —
 * against the newest mark met, not against the reader's clock: a reader that stalls (its
 * downstream is full) must not take every processor for dead when it reads again, and a
 * processor's marks still queued behind the batch are not "missing".
 * A writer none of whose processors is live keeps its most recent processor's mark: something
 * must hold it back until a replacement marks, or its next data would all be late.
 * A live processor's hold mark (`HOLD_MARK`, a worker that has not marked yet) holds its writer:
 * the view then reports what it reported before (nothing, before any watermark), never less.
 */
import { HOLD_MARK } from "../time/watermark.js";

interface ProcessorMark {
  readonly watermark: number;
  readonly writtenAt: number;
  /** When this processor's first mark of `watermark` was written (keep-alives repeat it): "held since". */
  readonly since: number;
}

/**
 * What a view holds, for `weir why` and the dashboard (persisted by the Redis buffer, see
 * redis-stream-buffer.ts). Times are the buffer's: Redis server ms (entry ids) on Redis.
 */
export interface WatermarkViewState {
  /** The watermark the reader reports (undefined until every expected writer marked). */
  readonly watermark: number | undefined;
  /** When {@link watermark} last rose (the time of the mark that raised it). */
  readonly since: number | undefined;
  /** The newest mark's time: how fresh this state is. */
  readonly at: number | undefined;
  readonly writers: ReadonlyArray<{
    readonly writer: string;
    readonly processors: ReadonlyArray<{ readonly processor: string; readonly watermark: number; readonly writtenAt: number; readonly since: number; readonly live: boolean }>;
  }>;
}

export class WatermarkView {
  private readonly writers: ReadonlyMap<string, Map<string, ProcessorMark>>;
  private readonly timeoutMs: number | undefined;
  private newestAt = Number.NEGATIVE_INFINITY;
  private reported: number | undefined;
  private reportedSince: number | undefined;
  private dirty = false;

  constructor(writers: readonly string[], timeoutMs: number | undefined) {
    this.writers = new Map(writers.map((writer) => [writer, new Map<string, ProcessorMark>()]));
    this.timeoutMs = timeoutMs;
  }

  /**
   * Folds in a mark written at `writtenAt` (buffer time). A mark older than the one already held
   * for its processor (a stranded entry recovered late) changes nothing. Unknown writers are ignored.
   */
  meet(writer: string, processor: string, watermark: number, writtenAt: number): void {
    const processors = this.writers.get(writer);
    if (processors === undefined) return;
    const held = processors.get(processor);
    if (held !== undefined && held.writtenAt > writtenAt) return;
    const since = held !== undefined && held.watermark === watermark ? held.since : writtenAt;
    processors.set(processor, { watermark, writtenAt, since });
    if (writtenAt > this.newestAt) this.newestAt = writtenAt;
    this.dirty = true;
  }

  /** The watermark to report: undefined until every writer marked; never lower than before. */
  current(): number | undefined {
    if (!this.dirty) return this.reported;
    this.dirty = false;
    let low = Number.POSITIVE_INFINITY;
    for (const processors of this.writers.values()) {
      const value = this.writerWatermark(processors);
      // A held writer (a worker of it has not marked yet) keeps what was reported before.
      if (value === undefined || value <= HOLD_MARK) return this.reported;
      if (value < low) low = value;
    }
    if (this.reported === undefined || low > this.reported) {
      this.reported = low;
      this.reportedSince = this.newestAt;
    }
    return this.reported;
  }

  /** Every writer's processors and their last marks, and the reported watermark with its age. */
  state(): WatermarkViewState {
    const watermark = this.current();
    return {
      watermark,
      since: this.reportedSince,
      at: this.newestAt === Number.NEGATIVE_INFINITY ? undefined : this.newestAt,
      writers: [...this.writers].map(([writer, processors]) => ({
        writer,
        processors: [...processors].map(([processor, mark]) => ({ processor, ...mark, live: this.isLive(mark) })),
      })),
    };
  }

  private isLive(mark: ProcessorMark): boolean {
    return this.timeoutMs === undefined || this.newestAt - mark.writtenAt < this.timeoutMs;
  }

  private writerWatermark(processors: ReadonlyMap<string, ProcessorMark>): number | undefined {
    let live = Number.POSITIVE_INFINITY;
    let newest: ProcessorMark | undefined;
    for (const mark of processors.values()) {
      if (newest === undefined || mark.writtenAt >= newest.writtenAt) newest = mark;
      if (this.isLive(mark) && mark.watermark < live) live = mark.watermark;
    }
    if (newest === undefined) return undefined;
    return live === Number.POSITIVE_INFINITY ? newest.watermark : live;
  }
}

/** The views of one buffer: one per (partition, consumer), made on first use. */
export class WatermarkViews {
  private readonly views: Array<Map<string | number, WatermarkView>>;
  private readonly writers: readonly string[];
  private readonly timeoutMs: number | undefined;

  constructor(partitions: number, writers: readonly string[], timeoutMs: number | undefined) {
    this.views = Array.from({ length: partitions }, () => new Map<string | number, WatermarkView>());
    this.writers = writers;
    this.timeoutMs = timeoutMs;
  }

  /** `consumer`: its name, or any key standing for it one to one (the memory buffer's consumer id). */
  of(partition: number, consumer: string | number): WatermarkView {
    const views = this.views[partition] as Map<string | number, WatermarkView>;
    let view = views.get(consumer);
    if (view === undefined) {
      view = new WatermarkView(this.writers, this.timeoutMs);
      views.set(consumer, view);
    }
    return view;
  }

  /** The consumer's view's state, without creating a view for a consumer that met no mark. */
  stateOf(partition: number, consumer: string | number): WatermarkViewState | undefined {
    return this.views[partition]?.get(consumer)?.state();
  }

  /** The consumer's current watermark, without creating a view for a consumer that met no mark. */
  peek(partition: number, consumer: string | number): number | undefined {
    return this.views[partition]?.get(consumer)?.current();
  }
}
