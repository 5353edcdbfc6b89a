import type { Message, ReadEntry } from "@weir/actors";

/**
 * The port every edge of a pipeline goes through: the input buffer of one vertex, split into
 * `partitions` independent, ordered logs. Two implementations keep the same contract (checked by
 * one conformance suite): `MemoryBuffer` (embedded default) and the Redis streams buffer.
 *
 * ```
 *   upstream writers ──write(p, msgs)──▶ ┌ partition p ──────────────────────────────┐
 *   (names in `upstreams`)               │ acked… │ pending (delivered) │ undelivered │
 *              endOfStream(writer) ───▶  └───────────────────────────────────────────┘
 *                                             ▲ ack(p, offsets)   read(p, {consumer}) ──▶ reader
 * ```
 *
 * Delivery follows Redis consumer groups (XREADGROUP with one group per buffer): each entry goes
 * to one consumer and stays *pending* for it until acknowledged; a restarted consumer re-reads
 * its own pending entries with `fromPending`; a living consumer takes over the pending entries of
 * a dead one with `claimIdle` (XAUTOCLAIM).
 *
 * Every method makes **one attempt**: it never retries and never waits for space. Retries,
 * backoff and `onFull` policies belong to the actors that call it (see DESIGN.md §3).
 *
 * @example
 * ```ts
 * const n = (await buffer.write(0, messages)).written; // a prefix; retry the rest later
 * const batch = await buffer.read(0, { consumer: "worker-1", max: 500, timeoutMs: 100 });
 * // … process batch.entries …
 * await buffer.ack(0, batch.entries.map((e) => e.offset));
 * if (batch.endOfStream) drain();
 * ```
 */
export interface PartitionedBuffer {
  /** The buffer's name, e.g. `"<pipeline>.<vertex>"` for the input buffer of a vertex. */
  readonly name: string;
  /** How many partitions the buffer has; valid partition indexes are `0 … partitions - 1`. */
  readonly partitions: number;

  /**
   * Appends as many messages as fit (capacity = {@link bufferCapacity} `- length`), in
   * order, and returns how many were written: always a prefix of `messages`. Never blocks on a
   * full buffer; `written: 0` means "full, try again later". `deduped` (Redis only) says how many
   * of the `written` prefix were already in the partition within its dedup window and were not
   * added again (an idempotent write after a crash or a redelivery): counted, never silent.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_STREAM_ENDED` (every upstream
   * already declared end of stream), `BUFFER_CLOSED`.
   */
  write(partition: number, messages: readonly Message[]): Promise<WriteOutcome>;

  /**
   * Reads up to `max` entries (messages) for `consumer`.
   *
   * - Default (like `XREADGROUP … >`): entries never delivered to any consumer, which become
   *   pending for `consumer`. When there are none, waits up to `timeoutMs` for a write or an end
   *   of stream (woken at once, no polling) and resolves with what is there then, maybe `[]`.
   * - `fromPending: true` (like `XREADGROUP … 0`): the entries already pending for this same
   *   consumer name, oldest first, starting after offset `after` when given. Never waits. A
   *   consumer calls this on start to re-read what it held before a crash or restart.
   *
   * Resolves early with no entries when `signal` aborts or the buffer is closed; an aborted read
   * delivers nothing, so no entry becomes pending for a reader that is going away.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_INVALID_ARGUMENT`,
   * `BUFFER_INVALID_OFFSET` (bad `after`), `BUFFER_CLOSED`.
   */
  read(partition: number, options: ReadOptions): Promise<ReadBatch>;

  /**
   * Acknowledges delivered entries, which removes them (so `length` shrinks and capacity comes
   * back). Returns how many were newly acknowledged: an offset acked twice, never delivered, or
   * unknown counts 0, as with `XACK`.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_INVALID_OFFSET`, `BUFFER_CLOSED`.
   */
  ack(partition: number, offsets: readonly string[]): Promise<number>;

  /**
   * Moves up to `max` entries that have been pending for *another* consumer for at least
   * `minIdleMs` to `consumer` (like `XAUTOCLAIM`), oldest first, and returns them. Claimed entries
   * are pending for `consumer` from now on, with their idle time reset. Used to take over the work
   * of a consumer that died (invariant I5). `max` counts messages; `maxEntries` (see
   * {@link ReadOptions.maxEntries}) bounds the stream entries taken over.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_INVALID_ARGUMENT`, `BUFFER_CLOSED`.
   */
  claimIdle(partition: number, consumer: string, minIdleMs: number, max: number, maxEntries?: number): Promise<readonly ReadEntry[]>;

  /**
   * Fill level of one partition, for backpressure.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_CLOSED`.
   */
  usage(partition: number): Promise<BufferUsage>;

  /**
   * Declares that upstream writer `writer` will write no more. Once every name in the buffer's
   * `upstreams` has done so, reads report `endOfStream` as each partition runs out of undelivered
   * entries. Idempotent per writer.
   *
   * @throws {BufferError} `BUFFER_UNKNOWN_WRITER` (not one of `upstreams`), `BUFFER_CLOSED`.
   */
  endOfStream(writer: string): Promise<void>;

  /**
   * Whether `writer` has declared end of stream on this buffer — for a durable buffer, possibly
   * in an earlier run (on any partition: a crash may have cut a declaration short).
   *
   * @throws {BufferError} `BUFFER_CLOSED`.
   */
  hasEnded(writer: string): Promise<boolean>;

  /**
   * Appends `mark` to the partition, after everything this process wrote to it before (issue #13).
   * A mark ignores capacity (it is never refused as "full") and end of stream; reads never return
   * it as an entry: the read that meets it consumes it (acks and deletes it) and folds it into its
   * consumer's {@link ReadBatch.watermark}. A Redis over `maxmemory` may refuse a mark: it is then
   * skipped and counted (a lost mark only delays the watermark), never an error that blocks data.
   *
   * @throws {BufferError} `BUFFER_UNKNOWN_WRITER` (`mark.writer` is not one of the buffer's
   * `watermarkWriters`), `BUFFER_INVALID_ARGUMENT`, `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_CLOSED`.
   */
  writeWatermark(partition: number, mark: WatermarkMark): Promise<void>;

  /** Releases the buffer. Idempotent; reads still waiting resolve with no entries. */
  close(): Promise<void>;

  /**
   * Durable buffers only (absent on the memory buffer, whose entries do not outlive the process):
   * pending entries of one partition with their delivery counts, oldest first, like `XPENDING`
   * — of `consumer` only when given, idle ≥ `minIdleMs` when given, from `start` (inclusive, or
   * `(<offset>` exclusive). Delivers nothing and changes no count.
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_CLOSED`.
   */
  pendingDeliveries?(partition: number, query: PendingDeliveriesQuery): Promise<readonly PendingDelivery[]>;

  /**
   * Durable buffers only (with {@link pendingDeliveries}): the entries of one partition at these
   * offsets that are still there (not yet acknowledged), in offset order, without delivering them
   * (like `XRANGE`: no delivery counted, nothing becomes pending). Acked or unknown offsets and
   * watermark marks are left out. For looking at other consumers' pending entries (issue #13: a
   * suspected dead processor's entries cap the watermark, pipeline/pending-cap.ts).
   *
   * @throws {BufferError} `BUFFER_PARTITION_OUT_OF_RANGE`, `BUFFER_INVALID_OFFSET`, `BUFFER_CLOSED`.
   */
  entriesAt?(partition: number, offsets: readonly string[]): Promise<readonly ReadEntry[]>;
}

/** One pending entry: how often it was delivered, none of the deliveries acked. */
export interface PendingDelivery {
  readonly offset: string;
  readonly consumer: string;
  readonly idleMs: number;
  readonly deliveries: number;
}

/** Which entries {@link PartitionedBuffer.pendingDeliveries} lists. */
export interface PendingDeliveriesQuery {
  readonly max: number;
  readonly consumer?: string;
  readonly minIdleMs?: number;
  readonly start?: string;
}

/** What {@link PartitionedBuffer.write} did: `written` messages (a prefix), `deduped` of them already there. */
export interface WriteOutcome {
  readonly written: number;
  readonly deduped?: number;
}

/** Options of {@link PartitionedBuffer.read}. */
export interface ReadOptions {
  /** The consumer (one per process and vertex) that the entries become pending for. */
  readonly consumer: string;
  /** Most entries to return; an integer ≥ 1. */
  readonly max: number;
  /** How long to wait for new entries when there are none; 0 returns at once. Ignored with `fromPending`. */
  readonly timeoutMs: number;
  /** Aborting resolves a waiting read with no entries. */
  readonly signal?: AbortSignal;
  /** Read this consumer's own pending entries instead of new ones (never waits). */
  readonly fromPending?: boolean;
  /** With `fromPending`: only entries after this offset, to page through a long pending list. */
  readonly after?: string;
  /**
   * Durable buffers whose stream entries may hold several messages (the Redis buffer's frames):
   * read at most this many stream entries — the units {@link PartitionedBuffer.pendingDeliveries}
   * lists and delivery counts count — still handing out at most `max` messages (the rest of an
   * entry is served by the next reads of this consumer). Ignored where an entry is one message.
   */
  readonly maxEntries?: number;
}

/**
 * What one read returns.
 *
 * `endOfStream` is true only when every upstream has declared end of stream **and** the partition
 * has no undelivered entries left (entries may still be pending, in this reader or another). A
 * batch can carry the last entries and `endOfStream: true` at once. A buffer with no upstreams is
 * unbounded and never ends.
 */
export interface ReadBatch {
  readonly entries: readonly ReadEntry[];
  readonly endOfStream: boolean;
  /**
   * This reader's watermark of the partition after the batch (issue #13): the minimum over the
   * expected writers (`BufferOptions.watermarkWriters`) of their latest marks (per writer, the
   * minimum over its live processors). Absent until every expected writer has marked, on buffers
   * that track no watermark, and on `fromPending` re-reads. Never lower than this buffer object
   * reported before to the same consumer on the same partition.
   */
  readonly watermark?: number;
}

/**
 * A writer's watermark, written in-band into a partition after the data it wrote before it, so a
 * reader that meets it has read everything the writer wrote earlier (issue #13).
 */
export interface WatermarkMark {
  /** `"<vertex>/<input partition>"` of the vertex that writes. */
  readonly writer: string;
  /** The writing process (its consumer name): each process's marks are tracked apart. */
  readonly processor: string;
  /** Event time in ms; `END_OF_TIME` once the writer will write no more. */
  readonly watermark: number;
}

/** Fill level of one partition. */
export interface BufferUsage {
  /** Messages written and not yet acknowledged (pending ones included). */
  readonly length: number;
  /**
   * Entries delivered to some consumer and not yet acknowledged: messages on the memory buffer and
   * on Redis with `framed: false`; on framed Redis (the default) stream entries, each a
   * partition-write's frame of messages, as XPENDING counts them.
   */
  readonly pending: number;
  /** The configured `maxLength`. */
  readonly maxLength: number;
  /** `length / maxLength`. */
  readonly usage: number;
  /** `length >= floor(maxLength * usageLimit)` (see {@link bufferCapacity}): a write would write nothing. */
  readonly isFull: boolean;
}

/** How a buffer is configured; the same options build either implementation. */
export interface BufferOptions {
  /** e.g. `"<pipeline>.<vertex>"`. */
  readonly name: string;
  /** Number of partitions, an integer ≥ 1. */
  readonly partitions: number;
  /** Nominal size of each partition, an integer ≥ 1 (`bufferMaxLength`). */
  readonly maxLength: number;
  /** Fraction of `maxLength` that may be filled, in `(0, 1]` (`bufferUsageLimit`). */
  readonly usageLimit: number;
  /** Names of the writers whose `endOfStream` ends the stream; empty for an unbounded stream. */
  readonly upstreams: readonly string[];
  /**
   * The writers whose watermark marks reads expect (`"<vertex>/<partition>"`, for each edge U→V:
   * `U/0 … U/(P_U − 1)`). Absent or empty: the buffer tracks no watermark and refuses marks.
   */
  readonly watermarkWriters?: readonly string[];
  /**
   * A processor whose last mark is older than this (ms, measured between marks on the buffer's
   * own clock) no longer holds its writer back: it died or was replaced. Absent: never.
   */
  readonly processorTimeoutMs?: number;
}

/**
 * How many entries a partition may hold: `floor(maxLength * usageLimit)`. The product is nudged
 * by a tiny epsilon first because binary floating point turns e.g. `100 * 0.29` into
 * `28.999999999999996`, and a user who writes `bufferUsageLimit: 0.29` means 29. Every buffer
 * implementation uses this one function so they agree on when a partition is full.
 *
 * @example
 * ```ts
 * bufferCapacity(30_000, 0.8); // 24_000
 * ```
 */
export function bufferCapacity(maxLength: number, usageLimit: number): number {
  return Math.floor(maxLength * usageLimit + 1e-9);
}
