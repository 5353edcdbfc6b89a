/**
 * The production {@link PartitionedBuffer}: one Redis stream per partition, read through one
 * consumer group per buffer (named after the buffer) with one consumer per process.
 *
 * ```
 *   write(p, msgs) ──▶ script bufferWrite: dedup by id + capacity check + XADD…      ┐ keys of
 *                      framed: script frameWrite: dedup by id + capacity + ONE XADD │ partition p
 *   read(p)        ──▶ [what is left of a frame] + XREADGROUP > (+ SCARD :eos, state) │ only:
 *                      └─ none yet: XREADGROUP BLOCK on a pooled blocking client    │ {<buffer>.<p>}
 *   read(p, fromPending) ──▶ XREADGROUP <after|0> (frames: acked prefixes skipped)  │
 *   ack(p, offsets) ──▶ script trimAck: XACK, XTRIM MINID the acked prefix, XDEL the rest │
 *                      framed: ledger → script frameAck once an entry is all acked  │
 *   claimIdle(p)    ──▶ script claim: XPENDING IDLE (other consumers) + XCLAIM      │
 *   usage(p)        ──▶ XLEN (framed: the :length counter) + XPENDING summary       │
 *   endOfStream(w)  ──▶ SADD w to every partition's :eos set                         │
 *   writeWatermark(p, mark) ──▶ XADD a mark entry (field "w"), no capacity check         ┘
 * ```
 *
 * Choices (the contract itself is in partitioned-buffer.ts):
 * - **Acks delete.** The ack script deletes what it acknowledged, so a stream holds exactly its
 *   unacknowledged entries: `usage().length` is XLEN, capacity is checked against XLEN in the
 *   write script, and a stream cannot grow past its capacity. The acknowledged prefix of a
 *   stream goes with one XTRIM MINID per ack, not one XDEL per entry (scripts.ts trimAck,
 *   issue 12). While full, the write script also trims acknowledged entries that something else may have left (XTRIM MINID below the oldest
 *   unacknowledged entry), since trimming that rides on XADD never happens when nothing can be written.
 * - **Idempotent writes.** Each partition remembers the message ids written within
 *   `dedupWindowMs` (at least that long, less than twice: two sets of ids that take turns, one per
 *   window-long bucket of server time, scripts.ts `bufferWrite`); the write script skips ids
 *   found there, in the same atomic step as the XADD. A batch written again — after a crash
 *   between a downstream write and the upstream ack, or resent by ioredis after a lost reply —
 *   adds nothing, and counts as written. The sets cost memory: about 60–80 bytes per id.
 * - **Memory pressure is a full buffer.** Redis over `maxmemory` refuses the write script before
 *   it writes (its `#!lua` shebang has no `allow-oom`); the write then reports what it wrote so
 *   far, as for a full stream, and the caller's `onFull` applies. Acks and claims stay allowed
 *   (`allow-oom`): they are what frees memory. Refusals are logged, aggregated, by the connection.
 * - **End of stream** is a set of ended writers per partition (`:eos`), so no command touches
 *   two partitions (Redis Cluster). A read reports `endOfStream` when Redis says, right after
 *   the read, that every upstream ended and nothing undelivered is left.
 * - **Stranded entries and blocking reads**: see consumer-group-stream.ts.
 * - **Watermark marks** (issue #13) are stream entries of their own kind (field `w`, see
 *   encoding.ts), XADDed directly like endOfStream's SADD: no capacity, dedup or end check. A
 *   read that meets marks folds them into its consumer's watermark and acks and deletes them at
 *   once (one more round trip, only when there are marks), so they never stay pending. A mark
 *   Redis refuses for memory is skipped and counted ({@link RedisStreamBuffer.marksSkipped}).
 *   Until read, a mark is in XLEN like an entry (so it takes a slot of capacity: about one per
 *   writing process per second, gone at the next read); once read it is gone.
 * - Offsets are Redis entry ids, `"<ms>-<seq>"`; a message of a framed entry (`framed`, frames.ts:
 *   one entry per partition-write) has `"<ms>-<seq>/<index>/<n>"`, and what the entry-level
 *   choices above say of an entry then holds of the frame (delivery, pending, claims), while length,
 *   capacity and `read`'s `max` count messages (frame-ledger.ts, the scripts' `:length` counter).
 *
 * @example
 * ```ts
 * const buffer = new RedisStreamBuffer({
 *   name: "demo.out", partitions: 4, maxLength: 30_000, usageLimit: 0.8, upstreams: ["enrich"],
 *   connection: { url: "redis://127.0.0.1:6379" },
 * });
 * await buffer.write(0, messages);
 * const { entries } = await buffer.read(0, { consumer: "worker-1", max: 500, timeoutMs: 100 });
 * await buffer.ack(0, entries.map((e) => e.offset));
 * await buffer.close();
 * ```
 */
import type { Message, ReadEntry } from "@weir/actors";
import { checkBufferOptions, checkClaimArguments, checkConsumer, checkReadArguments, checkUpstream, checkWatermarkMark, invalidOptions } from "../buffer-arguments.js";
import { BufferError, bufferErrors } from "../buffer-error.js";
import type {
  BufferOptions,
  BufferUsage,
  PartitionedBuffer,
  PendingDeliveriesQuery,
  PendingDelivery,
  ReadBatch,
  ReadOptions,
  WatermarkMark,
  WriteOutcome,
} from "../partitioned-buffer.js";
import { WatermarkViews, type WatermarkView } from "../watermark-view.js";
import { ConsumerGroupStream, type GroupRead, type RawEntry } from "./consumer-group-stream.js";
import { decodeMark, decodeMessage, encodeMark, ENTRY_FIELD, MARK_FIELD } from "./encoding.js";
import { ackFramed, countCappedDelivery, withoutAckedPrefixes, type FramedPartition } from "./frame-acks.js";
import { FrameLedger } from "./frame-ledger.js";
import { compareEntryIds, entryIdBefore, inStreamOrder, strictlyInStreamOrder } from "./entry-ids.js";
import { addToRuns, decodeFrame, deliveryUnitOf, FRAME_FIELD, frameOffsets, frameSizeBound, parseFramedOffset, type FramedOffset, type FramedRun } from "./frames.js";
import { assertKeyPart, DEFAULT_KEY_PREFIX, partitionKeys, type PartitionKeys } from "./keys.js";
import { isOutOfMemory, RedisConnection, type RedisClient, type RedisConnectionOptions } from "./redis-connection.js";
import { RespArgs } from "./resp-args.js";
import { runScriptWith } from "./script-command.js";
import { runScript, scriptCodeError } from "./scripts.js";

/** Options of a {@link RedisStreamBuffer}: the common buffer options plus where and how to store. */
export interface RedisStreamBufferOptions extends BufferOptions {
  /**
   * A shared connection (the buffer never closes it), or the options of one the buffer opens
   * for itself and closes in `close()`.
   */
  readonly connection: RedisConnection | RedisConnectionOptions;
  /** Prefix of every key (spec `buffer.keyPrefix`); no spaces or braces. Default `"weir"`. */
  readonly keyPrefix?: string;
  /** How long a written message id is at least remembered to drop a duplicate write (less than twice that), in ms (default 600 000); 0 disables dedup. */
  readonly dedupWindowMs?: number;
  /** Longest single blocking XREADGROUP, in ms (default 200): bounds how long an abort waits. */
  readonly blockSliceMs?: number;
  /**
   * Write each partition-write as ONE stream entry holding the batch (frames.ts, issue 12):
   * capacity and `usage().length` count messages (a counter the scripts keep), offsets are
   * `<entry id>/<index>/<n>`, and delivery counts, claims and `pendingDeliveries` are per entry.
   * Default false: one entry per message. Reads and acks accept both kinds either way.
   */
  readonly framed?: boolean;
  /**
   * The vertex's `maxDeliveries`: an entry acked in part has its delivery count capped at it
   * (scripts.ts `frameAck`), since the count stands for the deaths of its first unacked message.
   * Absent: never capped.
   */
  readonly maxDeliveries?: number;
}

/** Messages per write script call; a longer batch is written in several calls, stopping when one comes back short. */
const WRITE_CHUNK = 5_000;
const DEFAULT_DEDUP_WINDOW_MS = 600_000;
const DEFAULT_BLOCK_SLICE_MS = 200;
const ENTRY_FIELD_BYTE = ENTRY_FIELD.charCodeAt(0);
const FRAME_FIELD_BYTE = FRAME_FIELD.charCodeAt(0);
const MARK_FIELD_BYTE = MARK_FIELD.charCodeAt(0);
const EMPTY_OPEN: ReadBatch = Object.freeze({ entries: Object.freeze([]) as readonly ReadEntry[], endOfStream: false });
const EMPTY_ENDED: ReadBatch = Object.freeze({ entries: Object.freeze([]) as readonly ReadEntry[], endOfStream: true });

interface Partition {
  readonly keys: PartitionKeys;
  readonly stream: ConsumerGroupStream;
  /** Marks met whose ack failed: acked with the next marks (they are never handed out as data). */
  unackedMarks: string[];
  /** Framed entries: acks per message, and what reads could not hand out yet. */
  readonly ledger: FrameLedger;
  /** Mean messages per data entry read lately: XREADGROUP COUNT is `max` over it. */
  perEntry: number;
  /**
   * Per consumer, marks met by a read that left part of a frame in the carry: a mark may come
   * after those messages in the stream, so it counts only once the carry is handed out.
   */
  readonly deferredMarks: Map<string, MetMark[]>;
}

/** A mark met in a read, with its entry id. */
interface MetMark {
  readonly id: string;
  readonly mark: WatermarkMark;
}

export class RedisStreamBuffer implements PartitionedBuffer {
  readonly name: string;
  readonly partitions: number;
  readonly keyPrefix: string;

  private readonly maxLength: number;
  private readonly capacity: number;
  private readonly upstreams: ReadonlySet<string>;
  private readonly dedupWindowMs: number;
  private readonly framed: boolean;
  private readonly deliveryCap: number;
  private readonly connection: RedisConnection;
  private readonly ownsConnection: boolean;
  private readonly parts: Partition[] = [];
  private readonly watermarkWriters: ReadonlySet<string>;
  /** Per (partition, consumer): the watermark folded from the marks that consumer met. */
  private readonly watermarks: WatermarkViews | undefined;
  private skippedMarks = 0;
  private failedViewWrites = 0;
  private closed = false;

  constructor(options: RedisStreamBufferOptions) {
    const { name, partitions, maxLength, upstreams } = options;
    assertKeyPart("buffer name", name);
    const capacity = checkBufferOptions(options);
    const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    assertKeyPart(`buffer "${name}": keyPrefix`, keyPrefix);
    const dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    if (!(Number.isInteger(dedupWindowMs) && dedupWindowMs >= 0)) {
      throw invalidOptions(`buffer "${name}": dedupWindowMs must be an integer ≥ 0 (0 disables dedup), got ${dedupWindowMs}`);
    }
    const blockSliceMs = options.blockSliceMs ?? DEFAULT_BLOCK_SLICE_MS;
    if (!(blockSliceMs >= 1 && Number.isFinite(blockSliceMs))) {
      throw invalidOptions(`buffer "${name}": blockSliceMs must be a finite number ≥ 1, got ${blockSliceMs}`);
    }
    this.name = name;
    this.partitions = partitions;
    this.keyPrefix = keyPrefix;
    this.maxLength = maxLength;
    this.capacity = capacity;
    this.upstreams = new Set(upstreams);
    this.dedupWindowMs = dedupWindowMs;
    this.framed = options.framed === true;
    // The count an entry acked in part keeps at most: one death short of poison (frameAck).
    this.deliveryCap = Math.max(0, (options.maxDeliveries ?? 0) - 1);
    this.ownsConnection = !(options.connection instanceof RedisConnection);
    this.connection = options.connection instanceof RedisConnection ? options.connection : new RedisConnection(options.connection);
    this.watermarkWriters = new Set(options.watermarkWriters);
    this.watermarks =
      this.watermarkWriters.size === 0 ? undefined : new WatermarkViews(partitions, [...this.watermarkWriters], options.processorTimeoutMs);
    const upstreamCount = this.upstreams.size;
    for (let p = 0; p < partitions; p++) {
      const keys = partitionKeys(keyPrefix, name, p);
      const endCheck =
        upstreamCount === 0
          ? undefined
          : async (consumer: string) => {
              // Until every upstream ended (every read but the last few), SCARD alone answers: the
              // state script's first step, without a script call per read (issue 12, session 12).
              // Run after the read all the same, the script still sees a write that raced it.
              if ((await this.connection.client.scard(keys.eos)) < upstreamCount) return false;
              const [ended, remaining] = (await runScript(this.connection.client, "state", [keys.stream, keys.eos, keys.delayed], [name, upstreamCount, consumer])) as [
                number,
                number,
              ];
              return ended === 1 && remaining === 0;
            };
      const stream = new ConsumerGroupStream({
        connection: this.connection,
        key: keys.stream,
        group: name,
        blockSliceMs,
        describe: `buffer "${name}" partition ${p}`,
        ...(endCheck === undefined ? {} : { endCheck }),
      });
      // A framed buffer's first read takes one entry: the frames' size is learnt from it.
      this.parts.push({ keys, stream, unackedMarks: [], ledger: new FrameLedger(), perEntry: this.framed ? Number.POSITIVE_INFINITY : 1, deferredMarks: new Map() });
    }
  }

  /** Watermark marks Redis refused for memory (over `maxmemory`) and that were skipped, since the buffer was built. */
  get marksSkipped(): number {
    return this.skippedMarks;
  }

  /** The keys of one partition (for tools and tests). */
  keysOf(partition: number): PartitionKeys {
    return this.partition(partition, "keysOf").keys;
  }

  async write(partition: number, messages: readonly Message[]): Promise<WriteOutcome> {
    const part = this.partition(partition, "write");
    if (messages.length === 0) return { written: 0 };
    try {
      await part.stream.ensureGroup();
    } catch (error) {
      if (!(error instanceof BufferError && error.code === "BUFFER_OUT_OF_MEMORY")) throw error;
      this.connection.noteOutOfMemory(`buffer "${this.name}" partition ${partition}`);
      return { written: 0 };
    }
    let written = 0;
    let added = 0;
    for (let start = 0; start < messages.length; start += WRITE_CHUNK) {
      const chunk = start === 0 && messages.length <= WRITE_CHUNK ? messages : messages.slice(start, start + WRITE_CHUNK);
      let reply: unknown;
      try {
        reply = await (this.framed ? this.writeFrame(part, chunk) : this.writeChunk(part, chunk));
      } catch (error) {
        // Redis over maxmemory refused the script before it wrote anything (scripts.ts SHEBANG):
        // a full buffer, so backpressure holds (onFull decides) instead of the attempt failing.
        if (isOutOfMemory(error)) {
          this.connection.noteOutOfMemory(`buffer "${this.name}" partition ${partition}`);
          break;
        }
        throw part.stream.translate(error, "write");
      }
      if (typeof reply === "number") throw scriptCodeError("bufferWrite", reply, `buffer "${this.name}" partition ${partition}`);
      const [processed, addedNow, created] = reply as [number, number, number];
      // write() made the stream and its group before its first script call: one the script had to
      // make again was lost since (a Redis restart without persistence, a deleted key) — the entries
      // it held are gone, and writing on would hide that.
      if (created === 1) throw part.stream.dataLost("write");
      written += processed;
      added += addedNow;
      if (processed < chunk.length) break;
    }
    // Processed but not added: ids the dedup window already held (the write script's reply).
    return written === added ? { written } : { written, deduped: written - added };
  }

  /**
   * One call of the write script: ARGV capacity, dedup window, upstream count, group, no MAXLEN,
   * one field ("m"), then per message its id and encoded form (scripts.ts WRITE_ARGV), written
   * straight into the command's bytes (resp-args.ts).
   */
  private writeChunk(part: Partition, chunk: readonly Message[]): Promise<unknown> {
    let bound = RespArgs.bulkBound(20) * 6 + RespArgs.stringBound(this.name);
    for (let i = 0; i < chunk.length; i++) {
      const message = chunk[i] as Message;
      bound += RespArgs.stringBound(message.id) + RespArgs.messageBound(message);
    }
    const keys = [part.keys.stream, part.keys.dedupSets[0], part.keys.eos, part.keys.dedupSets[1]];
    return runScriptWith(this.connection.client, "bufferWrite", keys, bound, (args) => {
      args.number(this.capacity);
      args.number(this.dedupWindowMs);
      args.number(this.upstreams.size);
      args.string(this.name);
      args.number(0);
      args.number(1);
      args.string(ENTRY_FIELD);
      for (let i = 0; i < chunk.length; i++) {
        const message = chunk[i] as Message;
        args.string(message.id);
        args.message(message);
      }
    });
  }

  /**
   * One call of the framed write script (scripts.ts `frameWrite`): ARGV capacity, dedup window,
   * upstream count, group, the frame of the chunk, then the chunk's ids.
   */
  private writeFrame(part: Partition, chunk: readonly Message[]): Promise<unknown> {
    // The frame's bound walks every message: made once, for the command's size and the frame's header.
    const frameBound = frameSizeBound(chunk);
    let bound = RespArgs.bulkBound(20) * 3 + RespArgs.stringBound(this.name) + RespArgs.bulkBound(frameBound);
    for (let i = 0; i < chunk.length; i++) bound += RespArgs.stringBound((chunk[i] as Message).id);
    const keys = [part.keys.stream, part.keys.dedupSets[0], part.keys.eos, part.keys.dedupSets[1], part.keys.length];
    return runScriptWith(this.connection.client, "frameWrite", keys, bound, (args) => {
      args.number(this.capacity);
      args.number(this.dedupWindowMs);
      args.number(this.upstreams.size);
      args.string(this.name);
      args.frame(chunk, frameBound);
      args.idsOfFrame();
    });
  }

  /** The partition as frame-acks.ts needs it. */
  private framedPartition(part: Partition): FramedPartition {
    return { client: this.connection.client, group: this.name, keys: part.keys, stream: part.stream, ledger: part.ledger, deliveryCap: this.deliveryCap };
  }

  /**
   * Stream entries to read for `max` messages: `max` over the mean entry size lately, rounded up
   * (what a frame brings past `max` waits in the ledger for the next read), at least one.
   */
  private entriesFor(part: Partition, max: number, maxEntries: number | undefined): number {
    const estimate = Math.max(1, Math.ceil(max / part.perEntry));
    return maxEntries === undefined ? estimate : Math.max(1, Math.min(estimate, maxEntries));
  }

  /**
   * Reads pages through `readPage` until `max` messages are decoded, a page comes back short of
   * the entries it asked for (nothing more there now), the stream ends, or `maxEntries` entries
   * were read. XREADGROUP COUNT counts entries and a frame holds many messages: each page asks for
   * the entries the mean entry size says are needed, so a second page is read only when that
   * estimate fell short (the first read of a partition, entry sizes that changed, marks).
   */
  private async readMessages(
    part: Partition,
    max: number,
    maxEntries: number | undefined,
    marks: MetMark[],
    readPage: (count: number, first: boolean, lastId: string | undefined) => Promise<GroupRead>,
  ): Promise<{ readonly entries: ReadEntry[]; readonly ended: boolean }> {
    let entries: ReadEntry[] | undefined;
    let taken = 0;
    let lastId: string | undefined;
    for (;;) {
      const count = this.entriesFor(part, max - (entries?.length ?? 0), maxEntries === undefined ? undefined : maxEntries - taken);
      const page = await readPage(count, entries === undefined, lastId);
      const decoded = this.decode(part, page.entries, marks);
      if (entries === undefined) entries = decoded;
      else for (let i = 0; i < decoded.length; i++) entries.push(decoded[i] as ReadEntry);
      taken += page.entries.length;
      if (page.entries.length < count || page.ended || entries.length >= max || (maxEntries !== undefined && taken >= maxEntries)) {
        return { entries, ended: page.ended };
      }
      lastId = (page.entries[page.entries.length - 1] as RawEntry).id;
    }
  }

  /** Learns the mean entry size from a read of `entries` data entries holding `messages`. */
  private learn(part: Partition, entries: number, messages: number): void {
    if (entries === 0) return;
    const size = messages / entries;
    part.perEntry = Number.isFinite(part.perEntry) ? part.perEntry * 0.75 + size * 0.25 : size;
  }

  async read(partition: number, options: ReadOptions): Promise<ReadBatch> {
    const part = this.partition(partition, "read");
    const { max, timeoutMs, signal, consumer } = options;
    checkReadArguments(this.name, max, timeoutMs);
    checkConsumer(this.name, consumer);
    if (options.fromPending === true) return this.readOwnPending(part, consumer, max, options.after, options.maxEntries);
    // An aborted reader is going away: handing it entries would only strand them as pending.
    if (signal?.aborted === true) return this.withWatermark(EMPTY_OPEN, partition, consumer);
    // What is left of a frame this consumer read is pending for it already: served first.
    // Topped up from the stream without waiting when it is short of `max`.
    // A read that empties the carry still reads (at least one entry, kept for the next read if
    // `max` is served already), so the read that hands out the last message can tell the end.
    const carried = part.ledger.takeCarried(consumer, max);
    if (carried !== undefined && part.ledger.hasCarry(consumer)) return this.withWatermark({ entries: carried, endOfStream: false }, partition, consumer);
    const want = max - (carried?.length ?? 0);
    const marks: MetMark[] = [];
    const batch = await this.readMessages(part, want, options.maxEntries, marks, (count, first) =>
      part.stream.readNew(consumer, count, first && carried === undefined ? timeoutMs : 0, signal),
    );
    if (carried === undefined && batch.entries.length === 0 && marks.length === 0) return this.withWatermark(batch.ended ? EMPTY_ENDED : EMPTY_OPEN, partition, consumer);
    const served = part.ledger.serve(consumer, batch.entries, want);
    const entries = carried === undefined ? served : carried.concat(served);
    // A mark covers what was written before it: while messages read before it wait in the carry,
    // it is held back (acked now all the same; a crash loses it, which only delays the watermark).
    const deferred = part.deferredMarks.get(consumer);
    let met: readonly MetMark[] = marks;
    if (part.ledger.hasCarry(consumer)) {
      if (marks.length > 0) part.deferredMarks.set(consumer, deferred === undefined ? marks : [...deferred, ...marks]);
      met = [];
    } else if (deferred !== undefined) {
      part.deferredMarks.delete(consumer);
      met = [...deferred, ...marks];
    }
    const view = met.length > 0 ? this.watermarks?.of(partition, consumer) : undefined;
    // A mark's age is its entry id's time: Redis keeps ids increasing per stream (watermark-view.ts).
    for (const { id, mark } of met) view?.meet(mark.writer, mark.processor, mark.watermark, entryTime(id));
    if (marks.length > 0 || view !== undefined) {
      // The view goes to Redis with the marks' ack, in the same round trip (`weir why`, `weir ui`).
      await Promise.all([this.consumeMarks(part, marks), view === undefined ? undefined : this.persistView(part, consumer, view)]);
    }
    // The end is not reached while part of a frame waits to be handed out.
    return this.withWatermark({ entries, endOfStream: batch.ended && !part.ledger.hasCarry(consumer) }, partition, consumer);
  }

  /**
   * `read` with `fromPending`: this consumer's own pending entries after `after`. An `after` inside
   * a frame resumes that frame: from what the last read kept when it ended there, otherwise from
   * Redis (the entry re-read, its messages up to `after` skipped).
   */
  private async readOwnPending(part: Partition, consumer: string, max: number, after: string | undefined, maxEntries: number | undefined): Promise<ReadBatch> {
    let cursor = after;
    let skipThrough: FramedOffset | undefined;
    if (after !== undefined) {
      const framed = parseFramedOffset(after);
      if (!ConsumerGroupStream.isEntryId(framed?.entry ?? after)) throw this.invalidOffset(after, "read after");
      if (framed !== undefined) {
        const lastOfFrame = framed.index === framed.count - 1;
        if (part.ledger.carriedAfter(consumer) === after) {
          // What the last read kept goes on from `after` — also when `after` ended its frame and
          // the read had taken the next frames: re-reading them would count a delivery the
          // redelivery guard takes for a death (fault trial 10.2 sent an innocent message on so).
          if (!lastOfFrame) await countCappedDelivery(this.framedPartition(part), framed.entry);
          return { entries: part.ledger.takeCarried(consumer, max) ?? [], endOfStream: false };
        }
        if (lastOfFrame) {
          // The last message of its frame: page on after the entry, which is not read again (a
          // re-read would count a delivery the redelivery guard takes for a death).
          cursor = framed.entry;
        } else {
          cursor = entryIdBefore(framed.entry);
          skipThrough = framed;
        }
      }
    }
    part.ledger.dropCarry(consumer);
    // Marks are acked when a read meets them, so a re-read finds one only if that ack failed:
    // it is acked now and not counted again. Safe: a lost mark only delays the watermark until
    // the writer's next one; it never lets the watermark run ahead of data.
    const marks: MetMark[] = [];
    const batch = await this.readMessages(part, max, maxEntries, marks, (count, _first, lastId) => part.stream.readPending(consumer, count, lastId ?? cursor));
    let decoded = await withoutAckedPrefixes(this.framedPartition(part), batch.entries);
    // Re-read: XREADGROUP counted their delivery already.
    for (const raw of decoded) part.ledger.capped.delete(deliveryUnitOf(raw.offset));
    if (skipThrough !== undefined) {
      const { entry, index } = skipThrough;
      decoded = decoded.filter((read) => {
        const framed = parseFramedOffset(read.offset);
        return framed === undefined || framed.entry !== entry || framed.index > index;
      });
    }
    await this.consumeMarks(part, marks);
    return { entries: part.ledger.serve(consumer, decoded, max), endOfStream: batch.ended && !part.ledger.hasCarry(consumer) };
  }

  async writeWatermark(partition: number, mark: WatermarkMark): Promise<void> {
    const part = this.partition(partition, "writeWatermark");
    checkWatermarkMark(this.name, this.watermarkWriters, mark);
    try {
      // The group first, so a mark never creates a stream its readers' group does not cover.
      await part.stream.ensureGroup();
      await this.connection.client.xadd(part.keys.stream, "*", MARK_FIELD, encodeMark(mark));
    } catch (error) {
      // A control write must never block data: over maxmemory the mark is skipped and counted,
      // and the writer's next mark (at most a keep-alive later) carries the watermark on.
      if (isOutOfMemory(error) || (error instanceof BufferError && error.code === "BUFFER_OUT_OF_MEMORY")) {
        this.skippedMarks += 1;
        this.connection.noteOutOfMemory(`buffer "${this.name}" partition ${partition} (watermark mark skipped)`);
        return;
      }
      throw part.stream.translate(error, "writeWatermark");
    }
  }

  async ack(partition: number, offsets: readonly string[]): Promise<number> {
    const part = this.partition(partition, "ack");
    // Validate the whole batch first, so a malformed offset rejects the call without acking a part of it.
    // Framed offsets as runs of consecutive messages of one entry (an epoch's are usually whole
    // entries): no object per message, and the ledger marks a run at once.
    let framed: FramedRun[] | undefined;
    let plain: string[] | undefined;
    // A batch's framed offsets come in runs of one entry: its id is checked once per run.
    let entry = "";
    // The offsets decoded for the current run's entry, and the index its next message would have:
    // an offset equal to the one made for that message extends the run unparsed.
    let expected: readonly string[] | undefined;
    let next = 0;
    for (const offset of offsets) {
      if (expected !== undefined && offset === expected[next]) {
        (framed as FramedRun[])[(framed as FramedRun[]).length - 1]!.to = ++next;
        continue;
      }
      expected = undefined;
      const slash = offset.indexOf("/");
      if (slash < 0) {
        if (!ConsumerGroupStream.isEntryId(offset)) throw this.invalidOffset(offset, "ack");
        (plain ??= []).push(offset);
        continue;
      }
      if (slash !== entry.length || !offset.startsWith(entry)) {
        entry = offset.slice(0, slash);
        if (!ConsumerGroupStream.isEntryId(entry)) throw this.invalidOffset(offset, "ack");
      }
      if (!addToRuns((framed ??= []), entry, offset, slash)) throw this.invalidOffset(offset, "ack");
      const run = framed[framed.length - 1] as FramedRun;
      const made = part.ledger.offsetsOf(entry);
      if (made !== undefined && made.length === run.count && made[run.to - 1] === offset) {
        expected = made;
        next = run.to;
      }
    }
    if (offsets.length === 0) return 0;
    if (framed !== undefined) return ackFramed(this.framedPartition(part), plain ?? [], framed);
    // The trimming ack (scripts.ts trimAck) wants its ids in stream order; a batch's are already,
    // and then they are distinct too (no set built to drop repeats).
    const ascending = strictlyInStreamOrder(offsets);
    const sorted = ascending ? offsets : [...offsets].sort(compareEntryIds);
    return part.stream.ackThrough(
      sorted,
      (distinct) => {
        // Entry ids are ASCII (checked above): written as they are, straight into the command (resp-args.ts).
        let bound = RespArgs.stringBound(this.name);
        for (let i = 0; i < distinct.length; i++) bound += RespArgs.bulkBound((distinct[i] as string).length);
        return runScriptWith(this.connection.client, "trimAck", [part.keys.stream], bound, (args) => {
          args.string(this.name);
          for (let i = 0; i < distinct.length; i++) args.latin1(distinct[i] as string);
        }) as Promise<number>;
      },
      ascending,
    );
  }

  /**
   * Acknowledges `offsets` of `partition` through `run`: a script that acks them with the ack's own
   * Lua (scripts.ts `ACK_TRIM_LUA`) together with other writes on the partition's keys, in one
   * atomic step (reduce/redis-window-store.ts). `run` gets each offset once, in stream order, after
   * they were validated as the ack validates them, and the consumer group's name; errors are translated as
   * the ack's. Called even for no offsets (the script may still write).
   */
  async ackWithin(
    partition: number,
    offsets: readonly string[],
    run: (client: RedisClient, keys: PartitionKeys, group: string, distinct: readonly string[]) => Promise<number>,
  ): Promise<number> {
    const part = this.partition(partition, "ack");
    for (const offset of offsets) {
      if (!ConsumerGroupStream.isEntryId(offset)) throw this.invalidOffset(offset, "ack");
    }
    const sorted = inStreamOrder(offsets) ? offsets : [...offsets].sort(compareEntryIds);
    return part.stream.ackThrough(sorted, (distinct) => run(this.connection.client, part.keys, this.name, distinct));
  }

  /**
   * Runs `fn` with the client and the keys of `partition` (state kept beside the partition's
   * stream, e.g. reduce/redis-window-store.ts), its errors translated as the buffer's own.
   */
  async withPartition<T>(partition: number, operation: string, fn: (client: RedisClient, keys: PartitionKeys) => Promise<T>): Promise<T> {
    const part = this.partition(partition, operation);
    try {
      return await fn(this.connection.client, part.keys);
    } catch (error) {
      throw part.stream.translate(error, operation);
    }
  }

  async claimIdle(partition: number, consumer: string, minIdleMs: number, max: number, maxEntries?: number): Promise<readonly ReadEntry[]> {
    const part = this.partition(partition, "claimIdle");
    checkClaimArguments(this.name, minIdleMs, max);
    checkConsumer(this.name, consumer);
    // A mark claimed from a dead consumer is acked, not counted: that consumer's view died with it.
    const marks: MetMark[] = [];
    const claimed = await part.stream.claim(consumer, minIdleMs, this.entriesFor(part, max, maxEntries));
    const entries = await withoutAckedPrefixes(this.framedPartition(part), this.decode(part, claimed, marks));
    await this.consumeMarks(part, marks);
    // More messages than `max` (a frame): the rest is this consumer's next read (pending for it now).
    return part.ledger.serve(consumer, entries, max);
  }

  async pendingDeliveries(partition: number, query: PendingDeliveriesQuery): Promise<readonly PendingDelivery[]> {
    const part = this.partition(partition, "pendingDeliveries");
    if (query.consumer !== undefined) checkConsumer(this.name, query.consumer);
    return part.stream.pendingDeliveries(query);
  }

  async entriesAt(partition: number, offsets: readonly string[]): Promise<readonly ReadEntry[]> {
    const part = this.partition(partition, "entriesAt");
    // An entry id asks for every message of its entry; a framed offset for that one message.
    const whole = new Set<string>();
    const single = new Set<string>();
    const units = new Set<string>();
    for (const offset of offsets) {
      const framed = ConsumerGroupStream.isEntryId(offset) ? undefined : parseFramedOffset(offset);
      const unit = framed?.entry ?? offset;
      if (!ConsumerGroupStream.isEntryId(unit)) throw this.invalidOffset(offset, "entriesAt");
      units.add(unit);
      if (framed === undefined) whole.add(unit);
      else single.add(offset);
    }
    // Marks among them are left where they are: the read that meets them consumes them.
    const decoded = this.decode(part, await part.stream.fetch([...units].sort(compareEntryIds), "fetch entries by offset"), [], false);
    return single.size === 0 ? decoded : decoded.filter((entry) => whole.has(deliveryUnitOf(entry.offset)) || single.has(entry.offset));
  }

  async usage(partition: number): Promise<BufferUsage> {
    const part = this.partition(partition, "usage");
    await part.stream.ensureGroup();
    let length: number;
    let pending: number;
    try {
      const client = this.connection.client;
      const [len, summary] = await Promise.all([this.framed ? this.messageCount(part) : client.xlen(part.keys.stream), client.xpending(part.keys.stream, this.name)]);
      length = len;
      pending = Number((summary as [number, ...unknown[]])[0]);
    } catch (error) {
      throw part.stream.translate(error, "usage");
    }
    return { length, pending, maxLength: this.maxLength, usage: length / this.maxLength, isFull: length >= this.capacity };
  }

  /** A framed partition's length: its message counter (scripts.ts `frameWrite`), XLEN until the first write made it. */
  private async messageCount(part: Partition): Promise<number> {
    const client = this.connection.client;
    const counted = await client.get(part.keys.length);
    return counted === null ? client.xlen(part.keys.stream) : Math.max(0, Number(counted));
  }

  async endOfStream(writer: string): Promise<void> {
    this.assertOpen("endOfStream");
    checkUpstream(this.name, this.upstreams, writer);
    const first = this.parts[0] as Partition;
    try {
      // One SADD per partition (never a multi-partition command); pipelined. Idempotent, so a
      // partial failure is fixed by calling again.
      await Promise.all(this.parts.map((part) => this.connection.client.sadd(part.keys.eos, writer)));
    } catch (error) {
      throw first.stream.translate(error, "endOfStream");
    }
    // Readers of this process waiting on a BLOCK re-check at once; others within one block slice.
    for (const part of this.parts) part.stream.wake();
  }

  /**
   * Withdraws `writer`'s end-of-stream declaration from every partition, so its writes are
   * accepted again until it declares anew: `weir dlq replay` reopens the path downstream of a
   * udf vertex that completed a bounded run. Idempotent.
   */
  async withdrawEndOfStream(writer: string): Promise<void> {
    this.assertOpen("withdrawEndOfStream");
    checkUpstream(this.name, this.upstreams, writer);
    const first = this.parts[0] as Partition;
    try {
      // One SREM per partition, like endOfStream's SADD (never a multi-partition command).
      await Promise.all(this.parts.map((part) => this.connection.client.srem(part.keys.eos, writer)));
    } catch (error) {
      throw first.stream.translate(error, "withdrawEndOfStream");
    }
  }

  async hasEnded(writer: string): Promise<boolean> {
    this.assertOpen("hasEnded");
    const first = this.parts[0] as Partition;
    try {
      const members = await Promise.all(this.parts.map((part) => this.connection.client.sismember(part.keys.eos, writer)));
      return members.some((member) => member === 1);
    } catch (error) {
      throw first.stream.translate(error, "hasEnded");
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const part of this.parts) {
      part.ledger.clear();
      try {
        part.stream.close();
      } catch {
        // keep closing the rest
      }
    }
    if (this.ownsConnection) await this.connection.close();
  }

  /**
   * Decodes data entries, a frame into its messages (offsets `<entry id>/<index>/<n>`); watermark
   * marks go to `marks` (in stream order), never to the result. `learn`: the read's entries tell
   * the partition's mean entry size (XREADGROUP COUNT).
   */
  private decode(part: Partition, raw: readonly RawEntry[], marks: MetMark[], learn = true): ReadEntry[] {
    const out: ReadEntry[] = [];
    let data = 0;
    for (let i = 0; i < raw.length; i++) {
      const entry = raw[i] as RawEntry;
      const field = entry.fields[1];
      const name = entry.fields[0];
      // The field name is one byte ("m", "f" for a frame, "w" for a mark): compared as bytes, not decoded to a string per entry.
      const kind = field !== undefined && name !== undefined && name.length === 1 ? name[0] : undefined;
      if (kind === ENTRY_FIELD_BYTE) {
        out.push({ offset: entry.id, message: decodeMessage(field as Buffer) });
        data += 1;
      } else if (kind === FRAME_FIELD_BYTE) {
        const messages = decodeFrame(field as Buffer, entry.id);
        const offsets = frameOffsets(entry.id, messages.length);
        part.ledger.handOut(entry.id, offsets);
        for (let m = 0; m < messages.length; m++) out.push({ offset: offsets[m] as string, message: messages[m] as Message });
        data += 1;
      } else if (kind === MARK_FIELD_BYTE) {
        marks.push({ id: entry.id, mark: decodeMark(field as Buffer) });
      } else {
        throw new BufferError(
          "BUFFER_CORRUPT_ENTRY",
          `buffer "${this.name}": entry ${entry.id} has no "${ENTRY_FIELD}" or "${FRAME_FIELD}" field; something other than Weir wrote to its stream`,
        );
      }
    }
    if (learn) this.learn(part, data, out.length);
    return out;
  }

  /**
   * Acks and deletes the marks a read met. A failure does not fail the read (its data is handed
   * out already): the ids are kept and acked with the next marks; meanwhile they are pending,
   * and every read path skips them.
   */
  private async consumeMarks(part: Partition, marks: readonly MetMark[]): Promise<void> {
    if (marks.length === 0) return;
    const ids = [...part.unackedMarks, ...marks.map((met) => met.id)];
    part.unackedMarks = [];
    try {
      await part.stream.ack(ids, true);
    } catch {
      part.unackedMarks = ids;
    }
  }

  /**
   * Writes `consumer`'s view of the partition into its `:watermark-view` hash. Only reads that met
   * marks do it (about once a second per upstream processor, never per message). A failed write
   * is counted ({@link RedisStreamBuffer.viewWritesFailed}), never thrown: the hash is for people
   * (`weir why`), the read's data and watermark do not depend on it, and the next mark rewrites it.
   */
  private async persistView(part: Partition, consumer: string, view: WatermarkView): Promise<void> {
    try {
      await this.connection.client.hset(part.keys.watermarkView, consumer, JSON.stringify(view.state()));
    } catch {
      this.failedViewWrites += 1;
    }
  }

  /** Watermark views that could not be written to Redis (see persistView), since the buffer was built. */
  viewWritesFailed(): number {
    return this.failedViewWrites;
  }

  /** The batch with `consumer`'s watermark of the partition, once it has one. */
  private withWatermark(batch: ReadBatch, partition: number, consumer: string): ReadBatch {
    const watermark = this.watermarks?.peek(partition, consumer);
    return watermark === undefined ? batch : { ...batch, watermark };
  }

  private partition(partition: number, operation: string): Partition {
    this.assertOpen(operation);
    const part = Number.isInteger(partition) ? this.parts[partition] : undefined;
    if (part === undefined) {
      throw bufferErrors.partitionOutOfRange(this.name, operation, partition, this.partitions);
    }
    return part;
  }

  private assertOpen(operation: string): void {
    if (this.closed) {
      throw bufferErrors.closed(this.name, operation);
    }
  }

  private invalidOffset(offset: unknown, operation: string): BufferError {
    return bufferErrors.invalidOffset(this.name, operation, offset, 'Redis offsets are stream entry ids "<ms>-<seq>"');
  }
}

export { compareEntryIds, entryIdBefore } from "./entry-ids.js";

/** The time part of a stream entry id `"<ms>-<seq>"`. */
function entryTime(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}
