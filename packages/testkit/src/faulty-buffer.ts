import type { Message, ReadEntry } from "@weir/actors";
import { BufferError } from "@weir/runtime";
import type { BufferUsage, PartitionedBuffer, ReadBatch } from "@weir/runtime";

/** Options of `read`, taken from the interface so this file needs no extra export from the runtime. */
type ReadOptions = Parameters<PartitionedBuffer["read"]>[1];
/** A watermark mark, taken from the interface likewise. */
type WatermarkMark = Parameters<PartitionedBuffer["writeWatermark"]>[1];

/** Delays, in ms, added before each call of a kind reaches the wrapped buffer. */
export interface BufferLatency {
  readonly read?: number;
  readonly write?: number;
  readonly ack?: number;
}

/** How many faults a {@link FaultyBuffer} has injected so far, per kind. */
export interface InjectedFaults {
  readonly writes: number;
  readonly reads: number;
  readonly acks: number;
  /** Writes answered with `written: 0` because of `forceFull(true)`. */
  readonly fullWrites: number;
}

/** Options of `failNextWrites` / `failNextAcks`. */
export interface FailureOptions {
  /**
   * Apply the call to the wrapped buffer first, then fail: the effect happened but the caller
   * hears an error, as when a reply is lost on the network. Tests use it for duplicates on retry
   * (a write retried after it landed) and for acks that landed although the reader thinks not.
   */
  readonly afterApply?: boolean;
}

interface ArmedFailure {
  remaining: number;
  error: Error | undefined;
  afterApply: boolean;
}

const EMPTY_BATCH: ReadBatch = Object.freeze({ entries: Object.freeze([]), endOfStream: false });

/**
 * A {@link PartitionedBuffer} that wraps another one (usually a `MemoryBuffer`) and injects
 * faults on demand: failing writes, reads and acks, a buffer that stays full, and latency. With
 * nothing armed it is transparent (it passes the buffer conformance suite).
 *
 * Faults are armed for the *next n calls* of a kind, so a test states exactly which attempts fail
 * and can check that the caller retried (the buffer never retries; see DESIGN.md §3). The default
 * error is a retriable `BufferError` `BUFFER_UNAVAILABLE`, what a lost Redis connection gives.
 *
 * @example
 * ```ts
 * const buffer = new FaultyBuffer(new MemoryBuffer(options));
 * buffer.failNextAcks(2);                    // the reader must retry its ack twice
 * buffer.setLatency({ write: 50 });          // a slow downstream
 * // … run the pipeline …
 * expect(buffer.injectedFaults.acks).toBe(2);
 * ```
 */
export class FaultyBuffer implements PartitionedBuffer {
  /** The wrapped buffer, for assertions that must bypass the faults. */
  readonly inner: PartitionedBuffer;

  private readonly writeFailure: ArmedFailure = { remaining: 0, error: undefined, afterApply: false };
  private readonly ackFailure: ArmedFailure = { remaining: 0, error: undefined, afterApply: false };
  private readonly readFailure: ArmedFailure = { remaining: 0, error: undefined, afterApply: false };
  private full = false;
  private latency: Required<BufferLatency> = { read: 0, write: 0, ack: 0 };
  private counts = { writes: 0, reads: 0, acks: 0, fullWrites: 0 };
  private closed = false;
  /** Latency sleeps in progress; `close()` cuts them short so no timer outlives the buffer. */
  private readonly sleeps = new Set<() => void>();

  constructor(inner: PartitionedBuffer) {
    this.inner = inner;
  }

  get name(): string {
    return this.inner.name;
  }

  get partitions(): number {
    return this.inner.partitions;
  }

  /** The next `n` writes reject with `error` (default: retriable `BUFFER_UNAVAILABLE`) and write nothing, unless `afterApply`. */
  failNextWrites(n: number, error?: Error, options: FailureOptions = {}): void {
    arm(this.writeFailure, n, error, options.afterApply ?? false, "failNextWrites");
  }

  /** The next `n` acks reject with `error` (default: retriable `BUFFER_UNAVAILABLE`) and ack nothing, unless `afterApply`. */
  failNextAcks(n: number, error?: Error, options: FailureOptions = {}): void {
    arm(this.ackFailure, n, error, options.afterApply ?? false, "failNextAcks");
  }

  /** The next `n` reads (new or pending) reject with `error` (default: retriable `BUFFER_UNAVAILABLE`) and deliver nothing. */
  failNextReads(n: number, error?: Error): void {
    arm(this.readFailure, n, error, false, "failNextReads");
  }

  /** While on, every non-empty write writes nothing and `usage` reports the buffer full. */
  forceFull(on: boolean): void {
    this.full = on;
  }

  /** Replaces the latencies: each kind not given goes back to 0. */
  setLatency(latency: BufferLatency): void {
    const next = { read: latency.read ?? 0, write: latency.write ?? 0, ack: latency.ack ?? 0 };
    for (const [kind, ms] of Object.entries(next)) {
      if (!(ms >= 0 && Number.isFinite(ms))) {
        throw new BufferError("BUFFER_INVALID_ARGUMENT", `setLatency: ${kind} must be a finite number of ms ≥ 0, got ${ms}`);
      }
    }
    this.latency = next;
  }

  /** Faults injected so far (a snapshot). */
  get injectedFaults(): InjectedFaults {
    return { ...this.counts };
  }

  async write(partition: number, messages: readonly Message[]): Promise<{ readonly written: number }> {
    await this.delay(this.latency.write);
    const failure = take(this.writeFailure);
    if (failure !== undefined && !failure.afterApply) {
      this.counts.writes++;
      throw failure.error;
    }
    let result: { readonly written: number };
    if (this.full && messages.length > 0) {
      // Still validate the call (partition range, closed) as the real buffer would.
      await this.inner.usage(partition);
      this.counts.fullWrites++;
      result = { written: 0 };
    } else {
      result = await this.inner.write(partition, messages);
    }
    if (failure !== undefined) {
      this.counts.writes++;
      throw failure.error;
    }
    return result;
  }

  async read(partition: number, options: ReadOptions): Promise<ReadBatch> {
    const aborted = await this.delay(this.latency.read, options.signal);
    if (aborted) return EMPTY_BATCH;
    const failure = take(this.readFailure);
    if (failure !== undefined) {
      this.counts.reads++;
      throw failure.error;
    }
    return this.inner.read(partition, options);
  }

  async ack(partition: number, offsets: readonly string[]): Promise<number> {
    await this.delay(this.latency.ack);
    const failure = take(this.ackFailure);
    if (failure !== undefined && !failure.afterApply) {
      this.counts.acks++;
      throw failure.error;
    }
    const acked = await this.inner.ack(partition, offsets);
    if (failure !== undefined) {
      this.counts.acks++;
      throw failure.error;
    }
    return acked;
  }

  claimIdle(partition: number, consumer: string, minIdleMs: number, max: number, maxEntries?: number): Promise<readonly ReadEntry[]> {
    return this.inner.claimIdle(partition, consumer, minIdleMs, max, maxEntries);
  }

  async usage(partition: number): Promise<BufferUsage> {
    const usage = await this.inner.usage(partition);
    return this.full ? { ...usage, isFull: true } : usage;
  }

  endOfStream(writer: string): Promise<void> {
    return this.inner.endOfStream(writer);
  }

  /** Passed through untouched: a mark is a control write, like `endOfStream` (no injected faults). */
  writeWatermark(partition: number, mark: WatermarkMark): Promise<void> {
    return this.inner.writeWatermark(partition, mark);
  }

  hasEnded(writer: string): Promise<boolean> {
    return this.inner.hasEnded(writer);
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const wake of [...this.sleeps]) wake();
    }
    await this.inner.close();
  }

  /**
   * Waits `ms` (none when 0), or less when the buffer closes or `signal` aborts.
   * Resolves true when the wait ended because of the signal or close, i.e. a read should give up.
   */
  private delay(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ms === 0) return Promise.resolve(false);
    if (this.closed || signal?.aborted === true) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (cut: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.sleeps.delete(onClose);
        resolve(cut);
      };
      const onAbort = (): void => finish(true);
      const onClose = (): void => finish(true);
      const timer = setTimeout(() => finish(false), ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sleeps.add(onClose);
    });
  }
}

function arm(failure: ArmedFailure, n: number, error: Error | undefined, afterApply: boolean, method: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new BufferError("BUFFER_INVALID_ARGUMENT", `${method}: n must be an integer ≥ 0 (0 disarms), got ${n}`);
  }
  failure.remaining = n;
  failure.error = error;
  failure.afterApply = afterApply;
}

/** Uses up one armed failure, if any, and returns the error to raise. */
function take(failure: ArmedFailure): { error: Error; afterApply: boolean } | undefined {
  if (failure.remaining === 0) return undefined;
  failure.remaining--;
  const error =
    failure.error ??
    new BufferError("BUFFER_UNAVAILABLE", "injected fault: the buffer is unavailable (FaultyBuffer); retry the call", {
      retriable: true,
    });
  return { error, afterApply: failure.afterApply };
}
