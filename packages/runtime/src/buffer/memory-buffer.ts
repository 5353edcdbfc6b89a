import type { Message, ReadEntry } from "@weir/actors";
import { checkBufferOptions, checkClaimArguments, checkConsumer, checkReadArguments, checkUpstream, checkWatermarkMark, invalidOptions } from "./buffer-arguments.js";
import { BufferError, bufferErrors } from "./buffer-error.js";
import type { BufferOptions, BufferUsage, PartitionedBuffer, ReadBatch, ReadOptions, WatermarkMark } from "./partitioned-buffer.js";
import { WatermarkViews } from "./watermark-view.js";

/**
 * Where a {@link MemoryBuffer} reads the time that `claimIdle` compares idle times against.
 * Structurally compatible with XState's `SimulatedClock`, so tests can move time by hand.
 */
export interface BufferClock {
  now(): number;
}

/** Owner marks in `PartitionLog.owners`; values ≥ 0 are consumer ids. */
const UNDELIVERED = -1;
const ACKED = -2;
/** An undelivered watermark mark (issue #13): consumed, never delivered, by the read that meets it. */
const MARK = -3;

/** Slots a partition starts with; it doubles when it runs out (see `PartitionLog.reserve`). */
const INITIAL_SLOTS = 256;

/** `setTimeout` fires at once for delays above 2^31 - 1 ms; longer reads simply wait without a timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const EMPTY: readonly ReadEntry[] = Object.freeze([]);
/** Parsed offsets of the `ack` in progress (see `ack`). */
let ackScratch: number[] = [];
const OPEN_EMPTY: ReadBatch = Object.freeze({ entries: EMPTY, endOfStream: false });
const ENDED_EMPTY: ReadBatch = Object.freeze({ entries: EMPTY, endOfStream: true });

/** A read waiting for data; one per blocked `read` call, never one per message. */
interface Waiter {
  readonly consumer: number;
  readonly max: number;
  readonly resolve: (batch: ReadBatch) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The reader's signal: its abort ends the wait (one listener per signal, see `watchAbort`). */
  readonly signal: AbortSignal | undefined;
}

/**
 * One partition, stored as parallel arrays of slots indexed by `seq - baseSeq` (no per-entry Map,
 * no per-entry object besides the `ReadEntry` handed to readers, which is built once at write time).
 *
 * ```
 *  index:  0 … head-1 │ head … cursor-1                 │ cursor … end-1 │ end … slots-1
 *          all acked  │ pending (owner ≥ 0) or acked    │ undelivered    │ free
 * ```
 *
 * The arrays are allocated ahead and reused (issue 12): a write fills free slots, an ack only
 * marks its slots, and the acked prefix is dropped by moving the live slots down when a write runs
 * out of room — or the arrays double, so each slot is moved a bounded number of times. Before,
 * every write grew three arrays by `push` and compaction `splice`d them, which allocated the arrays
 * of removed elements: about 35 bytes per message per buffer, all garbage. Owners and delivery
 * times are typed arrays, which the garbage collector never scans.
 */
class PartitionLog {
  constructor(readonly index: number) {}
  entries: Array<ReadEntry | undefined> = emptySlots(INITIAL_SLOTS);
  /** `UNDELIVERED`, `ACKED`, `MARK`, or the id of the consumer the entry is pending for. */
  owners = new Int32Array(INITIAL_SLOTS);
  /** Clock time of the last delivery (read, pending re-read or claim), for `claimIdle`. */
  deliveredAt = new Float64Array(INITIAL_SLOTS);
  /** Sequence number of `entries[0]`; offsets are these sequence numbers in decimal, from 1. */
  baseSeq = 1;
  head = 0;
  cursor = 0;
  /** Slots in use: the next write goes to `end`. */
  end = 0;
  /** Written and not acked. */
  length = 0;
  /** Delivered and not acked. */
  pending = 0;
  /** Undelivered watermark marks, by sequence number (their `entries` slot is `undefined`). */
  marks = new Map<number, { readonly mark: WatermarkMark; readonly writtenAt: number }>();
  waiters: Waiter[] = [];

  /**
   * Makes room for `n` more slots at `end`. Out of room, the live slots (`head … end-1`) move to
   * the front, into arrays doubled until the live slots and the new ones fill at most three
   * quarters of them: a move frees at least a quarter of the slots, so a slot is moved at most
   * three times per write on average, and a partition holds at most about 2.7 times its peak of
   * live entries (marks included) in slots.
   */
  reserve(n: number): void {
    const slots = this.entries.length;
    if (this.end + n <= slots) return;
    const { head, end } = this;
    const live = end - head;
    let size = slots;
    while ((live + n) * 4 > size * 3) size *= 2;
    if (size === slots) {
      this.owners.copyWithin(0, head, end);
      this.deliveredAt.copyWithin(0, head, end);
      const { entries } = this;
      for (let i = 0; i < live; i += 1) entries[i] = entries[head + i];
      entries.fill(undefined, live, end);
    } else {
      const owners = new Int32Array(size);
      owners.set(this.owners.subarray(head, end));
      const deliveredAt = new Float64Array(size);
      deliveredAt.set(this.deliveredAt.subarray(head, end));
      const entries = emptySlots(size);
      for (let i = 0; i < live; i += 1) entries[i] = this.entries[head + i];
      this.owners = owners;
      this.deliveredAt = deliveredAt;
      this.entries = entries;
    }
    this.baseSeq += head;
    this.cursor -= head;
    this.head = 0;
    this.end = live;
  }
}

/**
 * The in-process {@link PartitionedBuffer}: the embedded default, and the reference the Redis
 * buffer is checked against by the conformance suite. Everything lives in this object, so pending
 * entries survive a consumer's "restart" only within the object's life.
 *
 * Costs: write, read and ack are O(batch); a blocked read costs one promise and at most one timer
 * per call; `fromPending` and `claimIdle` scan the delivered region (rare calls: start-up and
 * takeover).
 *
 * @example
 * ```ts
 * const buffer = new MemoryBuffer({ name: "demo.out", partitions: 4, maxLength: 30_000, usageLimit: 0.8, upstreams: ["enrich"] });
 * await buffer.write(0, messages);
 * const { entries } = await buffer.read(0, { consumer: "w1", max: 500, timeoutMs: 100 });
 * await buffer.ack(0, entries.map((e) => e.offset));
 * ```
 */
export class MemoryBuffer implements PartitionedBuffer {
  readonly name: string;
  readonly partitions: number;

  private readonly maxLength: number;
  private readonly capacity: number;
  private readonly upstreams: ReadonlySet<string>;
  private readonly endedWriters = new Set<string>();
  private readonly logs: PartitionLog[] = [];
  /** The readers' signals this buffer listens to, once each (`watchAbort`). */
  private readonly watchedSignals = new WeakSet<AbortSignal>();
  private readonly consumerIds = new Map<string, number>();
  private readonly clock: BufferClock;
  private readonly watermarkWriters: ReadonlySet<string>;
  /** Per (partition, consumer id): the watermark folded from the marks that consumer met. */
  private readonly watermarks: WatermarkViews | undefined;
  /** Every upstream declared end of stream (never true for an unbounded buffer). */
  private ended = false;
  private closed = false;

  constructor(options: BufferOptions, clock: BufferClock = { now: () => performance.now() }) {
    const { name, partitions, maxLength, upstreams } = options;
    if (typeof name !== "string" || name.length === 0) {
      throw invalidOptions(`name must be a non-empty string (e.g. "<pipeline>.<vertex>"), got ${JSON.stringify(name)}`);
    }
    const capacity = checkBufferOptions(options);
    this.name = name;
    this.partitions = partitions;
    this.maxLength = maxLength;
    this.capacity = capacity;
    this.upstreams = new Set(upstreams);
    this.clock = clock;
    this.watermarkWriters = new Set(options.watermarkWriters);
    this.watermarks =
      this.watermarkWriters.size === 0 ? undefined : new WatermarkViews(partitions, [...this.watermarkWriters], options.processorTimeoutMs);
    for (let p = 0; p < partitions; p++) this.logs.push(new PartitionLog(p));
  }

  async write(partition: number, messages: readonly Message[]): Promise<{ readonly written: number }> {
    const log = this.partitionLog(partition, "write");
    if (messages.length === 0) return { written: 0 };
    if (this.ended) {
      throw new BufferError(
        "BUFFER_STREAM_ENDED",
        `buffer "${this.name}": write after every upstream (${[...this.upstreams].join(", ")}) declared end of stream; a writer must call endOfStream only after its last write`,
      );
    }
    const room = this.capacity - log.length;
    const written = room > 0 ? Math.min(room, messages.length) : 0;
    log.reserve(written);
    const { entries, owners, deliveredAt } = log;
    let at = log.end;
    for (let i = 0; i < written; i++, at++) {
      entries[at] = { offset: String(log.baseSeq + at), message: messages[i] as Message };
      owners[at] = UNDELIVERED;
      deliveredAt[at] = 0;
    }
    log.end = at;
    log.length += written;
    if (written > 0 && log.waiters.length > 0) this.serveWaiters(log);
    return { written };
  }

  async read(partition: number, options: ReadOptions): Promise<ReadBatch> {
    const log = this.partitionLog(partition, "read");
    const { max, timeoutMs, signal } = options;
    checkReadArguments(this.name, max, timeoutMs);
    const consumer = this.consumerId(options.consumer);
    if (options.fromPending === true) return this.readPending(log, consumer, max, options.after);
    // An aborted reader is going away: handing it entries would only strand them as pending.
    if (signal?.aborted === true) return this.emptyBatch(log, consumer);
    if (log.cursor < log.end) return this.take(log, consumer, max);
    if (this.ended || timeoutMs === 0) return this.emptyBatch(log, consumer);
    return new Promise<ReadBatch>((resolve) => {
      const waiter: Waiter = { consumer, max, resolve, timer: undefined, signal };
      if (timeoutMs <= MAX_TIMER_MS) {
        waiter.timer = setTimeout(() => this.expire(log, waiter), timeoutMs);
      }
      if (signal !== undefined) this.watchAbort(signal);
      log.waiters.push(waiter);
    });
  }

  async ack(partition: number, offsets: readonly string[]): Promise<number> {
    const log = this.partitionLog(partition, "ack");
    const seqs = this.parseOffsets(offsets, "ack");
    return this.markAcked(log, seqs, offsets.length);
  }

  /**
   * Acks `offsets` only if every one of them is pending for `consumer`; otherwise acks nothing and
   * returns 0. Synchronous, so a caller applies its own state change in the same step as the ack
   * (reduce/memory-window-store.ts). An offset given twice counts once.
   *
   * @throws {BufferError} `BUFFER_INVALID_OFFSET`, `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_CLOSED`.
   */
  ackIfPendingFor(partition: number, consumer: string, offsets: readonly string[]): number {
    const log = this.partitionLog(partition, "ack");
    const n = offsets.length;
    const seqs = this.parseOffsets(offsets, "ack");
    const id = this.consumerIds.get(consumer);
    for (let i = 0; i < n; i++) {
      const index = (seqs[i] as number) - log.baseSeq;
      if (id === undefined || index < log.head || index >= log.cursor || log.owners[index] !== id) return 0;
    }
    return this.markAcked(log, seqs, n);
  }

  async claimIdle(partition: number, consumer: string, minIdleMs: number, max: number): Promise<readonly ReadEntry[]> {
    const log = this.partitionLog(partition, "claimIdle");
    checkClaimArguments(this.name, minIdleMs, max);
    const id = this.consumerId(consumer);
    const now = this.clock.now();
    const { owners, deliveredAt, entries } = log;
    const claimed: ReadEntry[] = [];
    for (let i = log.head; i < log.cursor && claimed.length < max; i++) {
      const owner = owners[i] as number;
      // Like XAUTOCLAIM: idle time ≥ minIdleMs qualifies; ownership moves and the idle time restarts.
      if (owner >= 0 && owner !== id && now - (deliveredAt[i] as number) >= minIdleMs) {
        owners[i] = id;
        deliveredAt[i] = now;
        claimed.push(entries[i] as ReadEntry);
      }
    }
    return claimed;
  }

  async writeWatermark(partition: number, mark: WatermarkMark): Promise<void> {
    const log = this.partitionLog(partition, "writeWatermark");
    checkWatermarkMark(this.name, this.watermarkWriters, mark);
    // In the log like an entry, so it is met only after what was written before it; it takes no
    // capacity and no `length` (never "full"), and is accepted after end of stream too.
    log.reserve(1);
    const at = log.end;
    log.marks.set(log.baseSeq + at, { mark: { writer: mark.writer, processor: mark.processor, watermark: mark.watermark }, writtenAt: this.clock.now() });
    log.entries[at] = undefined;
    log.owners[at] = MARK;
    log.deliveredAt[at] = 0;
    log.end = at + 1;
    if (log.waiters.length > 0) this.serveWaiters(log);
  }

  async usage(partition: number): Promise<BufferUsage> {
    const log = this.partitionLog(partition, "usage");
    return {
      length: log.length,
      pending: log.pending,
      maxLength: this.maxLength,
      usage: log.length / this.maxLength,
      isFull: log.length >= this.capacity,
    };
  }

  async endOfStream(writer: string): Promise<void> {
    this.assertOpen("endOfStream");
    checkUpstream(this.name, this.upstreams, writer);
    this.endedWriters.add(writer);
    if (this.ended || this.endedWriters.size < this.upstreams.size) return;
    this.ended = true;
    // Waiters exist only on partitions with nothing undelivered, so all of them have now ended.
    for (const log of this.logs) this.releaseWaiters(log, ENDED_EMPTY);
  }

  async hasEnded(writer: string): Promise<boolean> {
    this.assertOpen("hasEnded");
    return this.endedWriters.has(writer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const log of this.logs) {
      this.releaseWaiters(log, OPEN_EMPTY);
      // Nothing can be read after close: drop the entries now rather than when the object goes.
      log.entries = [];
      log.owners = new Int32Array(0);
      log.deliveredAt = new Float64Array(0);
      log.head = log.cursor = log.end = 0;
      log.marks.clear();
    }
  }

  /**
   * Ends the waiting reads of `signal` when it aborts, with one listener per signal for the buffer's
   * life rather than one added and removed per waiting read (issue 12, session 10): a listener per
   * wait on the reader's long-lived signal kept the batches of the reads it waited for alive
   * through scavenges — most messages of a pipeline with a map vertex were promoted to the old
   * generation and died there (docs/design-notes.md, "lead: XState patched").
   */
  private watchAbort(signal: AbortSignal): void {
    if (this.watchedSignals.has(signal)) return;
    this.watchedSignals.add(signal);
    signal.addEventListener("abort", () => this.expireWaitersOf(signal), { once: true });
  }

  private expireWaitersOf(signal: AbortSignal): void {
    for (const log of this.logs) {
      for (const waiter of log.waiters.filter((candidate) => candidate.signal === signal)) this.expire(log, waiter);
    }
  }

  /**
   * Hands up to `max` undelivered entries to `consumer`, making them pending for it. Marks in the
   * range count toward `max` (as in Redis, where XREADGROUP's COUNT covers them) and are consumed.
   */
  private take(log: PartitionLog, consumer: number, max: number): ReadBatch {
    const start = log.cursor;
    const end = Math.min(log.end, start + max);
    if (log.marks.size > 0) return this.takeWithMarks(log, consumer, start, end);
    // Undelivered entries are never acked, so this slice holds no `undefined`.
    const entries = log.entries.slice(start, end) as ReadEntry[];
    log.owners.fill(consumer, start, end);
    log.deliveredAt.fill(this.clock.now(), start, end);
    log.cursor = end;
    log.pending += end - start;
    return this.withWatermark({ entries, endOfStream: this.ended && end === log.end }, log, consumer);
  }

  /** `take` over a range that may hold marks: data is delivered, marks are acked and folded in. */
  private takeWithMarks(log: PartitionLog, consumer: number, start: number, end: number): ReadBatch {
    const now = this.clock.now();
    const { owners, deliveredAt, entries } = log;
    const out: ReadEntry[] = [];
    let consumed = false;
    for (let i = start; i < end; i++) {
      if (owners[i] === MARK) {
        const seq = log.baseSeq + i;
        const stored = log.marks.get(seq);
        log.marks.delete(seq);
        owners[i] = ACKED;
        consumed = true;
        if (stored !== undefined) {
          const { writer, processor, watermark } = stored.mark;
          this.watermarks?.of(log.index, consumer).meet(writer, processor, watermark, stored.writtenAt);
        }
        continue;
      }
      out.push(entries[i] as ReadEntry);
      owners[i] = consumer;
      deliveredAt[i] = now;
    }
    log.cursor = end;
    log.pending += out.length;
    if (consumed) compact(log);
    return this.withWatermark({ entries: out, endOfStream: this.ended && end === log.end }, log, consumer);
  }

  /** The batch with `consumer`'s watermark of the partition, once it has one. */
  private withWatermark(batch: ReadBatch, log: PartitionLog, consumer: number): ReadBatch {
    if (this.watermarks === undefined) return batch;
    const watermark = this.watermarks.peek(log.index, consumer);
    return watermark === undefined ? batch : { ...batch, watermark };
  }

  /**
   * Never meets a mark: marks are acked when a read meets them, so none is pending. That is safe:
   * a mark lost with a reader that crashed (this object gone with it) only delays the watermark
   * until the writer's next mark, at most a keep-alive later; it never lets it run ahead of data.
   */
  private readPending(log: PartitionLog, consumer: number, max: number, after: string | undefined): ReadBatch {
    let start = log.head;
    if (after !== undefined) {
      const seq = parseOffset(after);
      if (seq < 0) throw this.invalidOffset(after, "read after");
      start = Math.max(start, seq - log.baseSeq + 1);
    }
    const now = this.clock.now();
    const { owners, deliveredAt, entries } = log;
    const out: ReadEntry[] = [];
    for (let i = start; i < log.cursor && out.length < max; i++) {
      if (owners[i] === consumer) {
        out.push(entries[i] as ReadEntry);
        // Re-reading pending history refreshes the delivery time, as XREADGROUP does, so a
        // consumer that just resumed its entries does not lose them to claimIdle.
        deliveredAt[i] = now;
      }
    }
    return { entries: out, endOfStream: this.ended && log.cursor === log.end };
  }

  /** Serves waiting reads in arrival order after a write, as long as undelivered entries remain. */
  private serveWaiters(log: PartitionLog): void {
    while (log.waiters.length > 0 && log.cursor < log.end) {
      const waiter = log.waiters.shift() as Waiter;
      detach(waiter);
      waiter.resolve(this.take(log, waiter.consumer, waiter.max));
    }
  }

  /** Timeout or abort: the read gives up with no entries. */
  private expire(log: PartitionLog, waiter: Waiter): void {
    const index = log.waiters.indexOf(waiter);
    if (index < 0) return; // already served
    log.waiters.splice(index, 1);
    detach(waiter);
    waiter.resolve(this.emptyBatch(log, waiter.consumer));
  }

  private releaseWaiters(log: PartitionLog, batch: ReadBatch): void {
    const waiters = log.waiters;
    log.waiters = [];
    for (const waiter of waiters) {
      detach(waiter);
      waiter.resolve(batch);
    }
  }

  private emptyBatch(log: PartitionLog, consumer: number): ReadBatch {
    return this.withWatermark(this.ended && log.cursor === log.end ? ENDED_EMPTY : OPEN_EMPTY, log, consumer);
  }

  /**
   * Parses a whole batch of offsets first, so a malformed one rejects the call without acking a
   * part of it. Into a scratch list reused by every call (an ack never awaits).
   */
  private parseOffsets(offsets: readonly string[], operation: string): number[] {
    const n = offsets.length;
    const seqs = ackScratch.length >= n ? ackScratch : (ackScratch = new Array<number>(n));
    for (let i = 0; i < n; i++) {
      const seq = parseOffset(offsets[i]);
      if (seq < 0) throw this.invalidOffset(offsets[i], operation);
      seqs[i] = seq;
    }
    return seqs;
  }

  /** Acks the first `n` parsed offsets; returns how many were newly acked. */
  private markAcked(log: PartitionLog, seqs: readonly number[], n: number): number {
    const { owners, entries } = log;
    let acked = 0;
    for (let i = 0; i < n; i++) {
      const index = (seqs[i] as number) - log.baseSeq;
      // Only delivered entries can be acked (XACK acks PEL entries only); anything else counts 0.
      if (index >= log.head && index < log.cursor && (owners[index] as number) >= 0) {
        owners[index] = ACKED;
        entries[index] = undefined; // let the message be collected now, not at compaction
        acked++;
      }
    }
    log.length -= acked;
    log.pending -= acked;
    if (acked > 0) compact(log);
    return acked;
  }

  private consumerId(consumer: string): number {
    let id = this.consumerIds.get(consumer);
    if (id === undefined) {
      // Checked once per new name: known names skip it on the hot path.
      checkConsumer(this.name, consumer);
      id = this.consumerIds.size;
      this.consumerIds.set(consumer, id);
    }
    return id;
  }

  private partitionLog(partition: number, operation: string): PartitionLog {
    this.assertOpen(operation);
    const log = Number.isInteger(partition) ? this.logs[partition] : undefined;
    if (log === undefined) {
      throw bufferErrors.partitionOutOfRange(this.name, operation, partition, this.partitions);
    }
    return log;
  }

  private assertOpen(operation: string): void {
    if (this.closed) {
      throw bufferErrors.closed(this.name, operation);
    }
  }

  private invalidOffset(offset: unknown, operation: string): BufferError {
    return bufferErrors.invalidOffset(this.name, operation, offset, "memory offsets are decimal sequence numbers");
  }
}

/**
 * `size` slots holding `undefined`, built by `push` so the array is packed (`new Array(size)` makes a
 * holey one, and so would every batch `take` slices from it, for every consumer to check for holes).
 */
function emptySlots(size: number): Array<ReadEntry | undefined> {
  const slots: Array<ReadEntry | undefined> = [];
  for (let i = 0; i < size; i++) slots.push(undefined);
  return slots;
}

/** Moves `head` past the acked prefix; its slots are reclaimed by the next write that needs them (`reserve`). */
function compact(log: PartitionLog): void {
  const { owners } = log;
  let head = log.head;
  while (head < log.cursor && owners[head] === ACKED) head++;
  log.head = head;
}

/** Parses a decimal offset without allocating; -1 when it is not a canonical non-negative integer. */
function parseOffset(offset: unknown): number {
  if (typeof offset !== "string") return -1;
  const n = offset.length;
  // 15 digits stay below Number.MAX_SAFE_INTEGER; a leading zero is only valid for "0" itself.
  if (n === 0 || n > 15 || (n > 1 && offset.charCodeAt(0) === 48)) return -1;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const digit = offset.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function detach(waiter: Waiter): void {
  if (waiter.timer !== undefined) clearTimeout(waiter.timer);
}


