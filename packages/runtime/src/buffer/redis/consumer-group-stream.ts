/**
 * One Redis stream read through one consumer group: the part of the Redis buffer (one of these
 * per partition) and of the `redisStream` source that talks XREADGROUP, XACK and XCLAIM.
 *
 * ```
 *   readNew ──▶ [recover stranded entries] ──▶ XREADGROUP … > (command client) ──entries──▶ caller
 *                                                  │ none, and time left
 *                                                  ▼
 *                       XREADGROUP … BLOCK ≤ blockSliceMs > (a pooled blocking client), repeat
 *   readPending ──▶ XREADGROUP … <after | 0>     (this consumer's own pending entries)
 *   ack ──▶ XACK (+ XDEL, one script)            claim ──▶ XPENDING IDLE + XCLAIM (one script)
 * ```
 *
 * **Stranded entries.** An XREADGROUP `>` that Redis executed may still fail to reach the caller:
 * its reply was lost with the connection (ioredis then resends the command, which delivers the
 * *next* entries), or the read was aborted or woken while a blocking command was in flight.
 * Redis has made such entries pending for the consumer, and nobody holds them. So this class
 * remembers which entries it handed out and not yet saw acked, marks the consumer *suspect*
 * whenever entries may have been stranded (a connection generation changed during a call, an
 * error, an abort with entries in the reply), and a suspect consumer's next `readNew` first
 * returns its own pending entries that were never handed out; so does every read that is about
 * to report end of stream (a slice's reply may still be on its way when the end is checked).
 * The reply of a resent read or claim is not handed out as it came: its entries, pending too, go
 * out with the stranded ones, oldest first. Handed out ahead of them, a watermark mark in it would
 * pass entries the reader has not seen yet, which a reduce then counts late (I7).
 * Nothing is lost across a reconnect and nothing is handed out twice by one object. This assumes
 * one reader at a time per consumer name and stream, which is how the partition reader uses it.
 *
 * **Blocking and abort.** A blocking XREADGROUP cannot be withdrawn once Redis has it, so waits
 * are cut into slices of at most `blockSliceMs`. An abort lets the current slice finish (at most
 * `blockSliceMs`) so that no entry written after the abort goes to the aborted reader; if the
 * slice still returned entries, they stay pending and are recovered as above. `wake()` (end of
 * stream, close) returns waiting reads at once and leaves the slice to finish in the background.
 * Between slices a read re-checks end of stream, so a reader in another process sees an end of
 * stream within one slice.
 */
import { BufferError } from "../buffer-error.js";
import { compareEntryIds } from "./entry-ids.js";
import type { PendingDeliveriesQuery, PendingDelivery } from "../partitioned-buffer.js";
import { isConnectionError, isOutOfMemory, type BlockingClient, type RedisClient, type RedisConnection } from "./redis-connection.js";
import { runScript } from "./scripts.js";

/** A stream entry as Redis returned it: its id and its field/value list. */
export interface RawEntry {
  readonly id: string;
  readonly fields: readonly Buffer[];
}

/** What one read returns. `ended` comes from `endCheck`; always false without one. */
export interface GroupRead {
  readonly entries: readonly RawEntry[];
  readonly ended: boolean;
}

export interface ConsumerGroupStreamOptions {
  readonly connection: RedisConnection;
  readonly key: string;
  readonly group: string;
  /** Where a group this creates starts: `"0"` (the whole stream, default) or `"$"` (new entries only). */
  readonly startId?: string;
  /** Longest single XREADGROUP BLOCK, in ms. */
  readonly blockSliceMs: number;
  /**
   * Called together with each read, and evaluated by Redis right after it: true when the stream
   * has ended and holds nothing undelivered. Absent: the stream never ends.
   */
  readonly endCheck?: (consumer: string) => Promise<boolean>;
  /** Names the stream in error messages, e.g. `buffer "demo.out" partition 1`. */
  readonly describe: string;
}

/** Entries read per page when scanning a consumer's pending list. */
const PENDING_PAGE = 200;
/** How long past its BLOCK time a blocking read may stay unanswered before it counts as unreachable. */
const BLOCK_GRACE_MS = 5_000;
const EMPTY: GroupRead = Object.freeze({ entries: Object.freeze([]) as readonly RawEntry[], ended: false });

/** A blocking slice in flight, as `wake()` and its reader's abort see it. */
interface SliceWaiter {
  readonly signal: AbortSignal | undefined;
  /** Returns the read now and leaves the command to finish in the background. */
  readonly detach: () => void;
  readonly onAbort: () => void;
}

type SliceOutcome = { readonly kind: "entries"; readonly entries: RawEntry[] } | { readonly kind: "none" };

export class ConsumerGroupStream {
  readonly key: string;
  readonly group: string;

  private readonly connection: RedisConnection;
  private readonly options: ConsumerGroupStreamOptions;
  private groupReady: Promise<void> | undefined;
  /** The group existed once: a NOGROUP from now on means Redis lost it. */
  private groupSeen = false;
  /** Entries handed out by this object and not seen acked. */
  private readonly handedOut = new Set<string>();
  /** Consumers that may have pending entries never handed out. */
  private readonly suspects = new Set<string>();
  /** Blocking slices in flight (`waitSlice`): `wake()` and an abort of their signal end them. */
  private readonly waiters = new Set<SliceWaiter>();
  /** The readers' signals this stream listens to, once each (`watchAbort`). */
  private readonly watchedSignals = new WeakSet<AbortSignal>();
  private closed = false;

  constructor(options: ConsumerGroupStreamOptions) {
    this.options = options;
    this.connection = options.connection;
    this.key = options.key;
    this.group = options.group;
  }

  /** Creates the consumer group (and the stream) unless it exists. Cached; retried after a failure. */
  ensureGroup(): Promise<void> {
    this.groupReady ??= this.connection.client.xgroup("CREATE", this.key, this.group, this.options.startId ?? "0", "MKSTREAM").then(
      () => {
        this.groupSeen = true;
      },
      (error: unknown) => {
        if (error instanceof Error && error.message.startsWith("BUSYGROUP")) {
          this.groupSeen = true;
          return;
        }
        this.groupReady = undefined;
        throw this.translate(error, "create consumer group");
      },
    );
    return this.groupReady;
  }

  /**
   * New entries for `consumer` (XREADGROUP `>`), waiting up to `timeoutMs` for some. A suspect
   * consumer first gets back its stranded entries (see the module doc).
   */
  async readNew(consumer: string, max: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<GroupRead> {
    await this.ensureGroup();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (aborted(signal) || this.closed) return EMPTY;
      // Stranded entries are older than anything a read takes now: they go out first.
      if (this.suspects.has(consumer)) {
        const recovered = await this.recover(consumer, max);
        if (recovered.length > 0) return { entries: this.handOut(recovered), ended: false };
      }
      const generation = this.connection.generation;
      let reply: unknown;
      let ended = false;
      try {
        const read = xreadgroup(this.connection.client, "GROUP", this.group, consumer, "COUNT", max, "STREAMS", this.key, ">");
        [reply, ended] = await Promise.all([read, this.options.endCheck?.(consumer) ?? false]);
      } catch (error) {
        this.suspects.add(consumer);
        throw this.translate(error, "read");
      }
      if (this.connection.generation !== generation) {
        // Resent: its first run may have delivered older entries nobody received, and a mark in
        // this reply would pass them. Left pending, the reply goes out with them, in stream order.
        this.suspects.add(consumer);
        continue;
      }
      const entries = parseStreamsReply(reply);
      if (entries.length > 0 && (aborted(signal) || this.closed)) {
        // An aborted reader is going away: leave the entries pending, to be recovered.
        this.suspects.add(consumer);
        return EMPTY;
      }
      if (ended) return this.endOfStreamRead(consumer, max, this.handOut(entries));
      if (entries.length > 0) return { entries: this.handOut(entries), ended: false };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return EMPTY;
      const outcome = await this.waitSlice(consumer, max, Math.min(remaining, this.options.blockSliceMs), signal);
      if (outcome.kind === "entries") return { entries: this.handOut(outcome.entries), ended: false };
      if (deadline - performance.now() <= 0) return EMPTY;
    }
  }

  /**
   * The read that Redis says ends the stream (everything delivered). A blocking slice detached
   * by wake() may still have been served the last entries after this object stopped listening:
   * they are pending for this consumer and nobody holds them. They go out first (oldest), and
   * the end waits for the next read.
   */
  private async endOfStreamRead(consumer: string, max: number, entries: RawEntry[]): Promise<GroupRead> {
    let stranded: RawEntry[];
    try {
      stranded = await this.recover(consumer, Math.max(1, max - entries.length));
    } catch (error) {
      if (entries.length === 0) throw error;
      // The entries are handed out already: deliver them, look again on the next read.
      this.suspects.add(consumer);
      return { entries, ended: false };
    }
    if (stranded.length === 0) return { entries, ended: true };
    const room = max - entries.length;
    return { entries: room > 0 ? [...this.handOut(stranded.slice(0, room)), ...entries] : entries, ended: false };
  }

  /**
   * This consumer's own pending entries after `after` (XREADGROUP with an id), oldest first,
   * never waiting. Entries deleted while pending (not by Weir, whose acks delete only acked
   * entries) are acknowledged here, since their data is gone.
   */
  async readPending(consumer: string, max: number, after: string | undefined): Promise<GroupRead> {
    await this.ensureGroup();
    let cursor = after ?? "0";
    const out: RawEntry[] = [];
    const gone: string[] = [];
    let ended = false;
    try {
      for (let first = true; out.length < max; first = false) {
        const want = max - out.length;
        const read = xreadgroup(this.connection.client, "GROUP", this.group, consumer, "COUNT", want, "STREAMS", this.key, cursor);
        let reply: unknown;
        if (first) [reply, ended] = await Promise.all([read, this.options.endCheck?.(consumer) ?? false]);
        else reply = await read;
        const page = parseStreamsReply(reply, gone);
        out.push(...page.entries);
        if (page.count < want || page.lastId === undefined) break;
        cursor = page.lastId;
      }
      if (gone.length > 0) await this.connection.client.xack(this.key, this.group, ...gone);
    } catch (error) {
      throw this.translate(error, "read pending");
    }
    return { entries: this.handOut(out), ended };
  }

  /**
   * Acknowledges entries; with `remove`, deletes them too (one script, see scripts.ts `ack`).
   * Returns how many were newly acknowledged.
   */
  async ack(ids: readonly string[], remove: boolean): Promise<number> {
    if (ids.length === 0) return 0;
    return this.ackThrough(ids, (distinct) => {
      if (!remove) return this.connection.client.xack(this.key, this.group, ...distinct);
      const args: Array<string | number> = new Array(distinct.length + 1);
      args[0] = this.group;
      for (let i = 0; i < distinct.length; i++) args[i + 1] = distinct[i] as string;
      return runScript(this.connection.client, "ack", [this.key], args) as Promise<number>;
    });
  }

  /**
   * Acknowledges entries through `run`, which gets each id once and returns how many it acked:
   * the plain ack, or a script that acks together with other writes in one atomic step
   * (reduce/redis-window-store.ts). `run` is called even for no ids (such a script may still
   * write). Handed-out ids are forgotten only once `run` succeeded: until then a recovery must
   * not resend them. `distinct`: the caller knows `ids` has no repeats (no set is built to drop them).
   */
  async ackThrough(ids: readonly string[], run: (distinct: readonly string[]) => Promise<number>, distinctAlready = false): Promise<number> {
    const distinct = distinctAlready || ids.length <= 1 ? ids : [...new Set(ids)];
    let acked: number;
    try {
      await this.ensureGroup();
      acked = await run(distinct);
    } catch (error) {
      throw this.translate(error, "ack");
    }
    for (let i = 0; i < distinct.length; i++) this.handedOut.delete(distinct[i] as string);
    return acked;
  }

  /** Takes over up to `max` entries idle ≥ `minIdleMs` from other consumers (scripts.ts `claim`). */
  async claim(consumer: string, minIdleMs: number, max: number): Promise<readonly RawEntry[]> {
    await this.ensureGroup();
    const generation = this.connection.generation;
    const idle = Math.min(Math.ceil(minIdleMs), Number.MAX_SAFE_INTEGER);
    let reply: unknown;
    try {
      reply = await runScript(this.connection.client, "claim", [this.key], [this.group, consumer, idle, max], true);
    } catch (error) {
      // The claim may have happened with its reply lost: the entries are then ours, pending.
      this.suspects.add(consumer);
      throw this.translate(error, "claim");
    }
    const entries = parseEntries(reply).entries;
    if (this.connection.generation !== generation) {
      // Resent: what its first run took over is ours and pending too; a reduce read adds the claim
      // to the batch whose watermark commits with it (pipeline/reduce-read.ts). So they go out
      // with the reply, in stream order. The reply as it came: it may take back entries this
      // object handed out before another consumer took them, which recover() leaves out.
      this.suspects.add(consumer);
      return this.handOut(unionInStreamOrder(entries, await this.recover(consumer, max)));
    }
    return this.handOut(entries);
  }

  /**
   * Pending entries with their delivery counts (XPENDING, extended form), oldest first, from
   * `start` (inclusive; `(id` exclusive) on: of `consumer` only when given, idle ≥ `minIdleMs`
   * when given. Delivers nothing and changes no count. Redis counts a delivery on every
   * XREADGROUP that returns the entry (`>`, and re-reads of a consumer's own pending entries)
   * and every XCLAIM: so a count of n means n deliveries, none of which was acked.
   */
  async pendingDeliveries(options: PendingDeliveriesQuery): Promise<readonly PendingDelivery[]> {
    await this.ensureGroup();
    const args: Array<string | number> = [this.key, this.group];
    if (options.minIdleMs !== undefined) args.push("IDLE", Math.max(0, Math.ceil(options.minIdleMs)));
    args.push(options.start ?? "-", "+", options.max);
    if (options.consumer !== undefined) args.push(options.consumer);
    let reply: unknown;
    try {
      reply = await (this.connection.client as unknown as { xpending(...args: Array<string | number>): Promise<unknown> }).xpending(...args);
    } catch (error) {
      throw this.translate(error, "list pending entries");
    }
    return ((reply ?? []) as Array<[string, string, number, number]>).map(([offset, consumer, idleMs, deliveries]) => ({
      offset,
      consumer,
      idleMs: Number(idleMs),
      deliveries: Number(deliveries),
    }));
  }

  /** Returns every waiting read at once, to re-check the stream (end of stream). */
  wake(): void {
    for (const waiter of [...this.waiters]) waiter.detach();
  }

  /** Waiting reads resolve with no entries; later calls are the owner's to refuse. */
  close(): void {
    this.closed = true;
    this.wake();
    this.handedOut.clear();
  }

  /** Whether `offset` looks like a stream entry id (`<ms>-<seq>`). */
  static isEntryId(offset: unknown): offset is string {
    if (typeof offset !== "string") return false;
    // `^\d{1,20}-\d{1,20}$`, by hand: it runs once per acked offset.
    const n = offset.length;
    let dash = -1;
    for (let i = 0; i < n; i++) {
      const c = offset.charCodeAt(i);
      if (c === 45 && dash < 0) dash = i;
      else if (c < 48 || c > 57) return false;
    }
    return dash >= 1 && dash <= 20 && n - dash - 1 >= 1 && n - dash - 1 <= 20;
  }

  /**
   * The stream or its group, seen in use, is gone: Redis lost its data (a restart without
   * persistence, a FLUSHALL, a deleted key). Not retriable: going on would complete short.
   */
  dataLost(operation: string, cause?: unknown): BufferError {
    return new BufferError(
      "BUFFER_DATA_LOST",
      `${this.options.describe}: ${operation}: consumer group "${this.group}" of ${this.key} disappeared while in use — Redis lost its data (restarted without persistence?) or the key was deleted; unprocessed entries are gone. Run Redis with appendonly yes (appendfsync always) to survive restarts`,
      cause === undefined ? { retriable: false } : { retriable: false, cause },
    );
  }

  /** Maps a Redis or connection error to a BufferError. */
  translate(error: unknown, operation: string): BufferError {
    if (error instanceof BufferError) return error;
    // A connection stopped by a TLS mistake fails its queued commands with "Connection is closed.":
    // the reason is the TLS failure.
    if (this.connection.failure !== undefined) return this.connection.failure;
    const message = error instanceof Error ? error.message : String(error);
    const where = `${this.options.describe}: ${operation}`;
    if (this.closed || this.connection.isClosed) {
      return new BufferError("BUFFER_CLOSED", `${where} failed because the buffer or its Redis connection was closed`, { cause: error });
    }
    if (isOutOfMemory(error)) {
      return new BufferError(
        "BUFFER_OUT_OF_MEMORY",
        `${where}: Redis refused it: its used memory is over maxmemory; retried as readers' acks free memory. If it lasts, raise maxmemory, or lower bufferMaxLength or buffer.dedupWindow`,
        { retriable: true, cause: error },
      );
    }
    if (message.startsWith("NOGROUP")) {
      this.groupReady = undefined;
      if (this.groupSeen) {
        // The group existed and is gone: Redis lost the stream (a restart without persistence, a
        // FLUSHALL, a deleted key). Entries it held are lost; going on would complete short.
        return this.dataLost(operation, error);
      }
      return new BufferError(
        "BUFFER_UNAVAILABLE",
        `${where}: consumer group "${this.group}" of ${this.key} is missing (was the key deleted?); it is recreated on the next call`,
        { retriable: true, cause: error },
      );
    }
    if (isConnectionError(error)) {
      return new BufferError("BUFFER_UNAVAILABLE", `${where}: Redis is unreachable (${message}); retry once it is back`, { retriable: true, cause: error });
    }
    return new BufferError("BUFFER_SCRIPT", `${where} failed: ${message}`, { cause: error });
  }

  private handOut<T extends readonly RawEntry[]>(entries: T): T {
    for (const entry of entries) this.handedOut.add(entry.id);
    return entries;
  }

  /**
   * This consumer's pending entries that this object never handed out, up to `max`. Listed with
   * XPENDING and fetched with XRANGE, never re-read with XREADGROUP: a re-read counts a delivery
   * of every entry it returns, the ones in flight included, and delivery counts are how the
   * redelivery guard counts a worker's deaths (pipeline/redelivery-guard.ts).
   */
  private async recover(consumer: string, max: number): Promise<RawEntry[]> {
    const generation = this.connection.generation;
    const out: RawEntry[] = [];
    let complete = false;
    for (let start = "-"; ; ) {
      const page = await this.pendingDeliveries({ consumer, start, max: PENDING_PAGE });
      const unseen = page.filter((entry) => !this.handedOut.has(entry.offset));
      const stranded = unseen.slice(0, max - out.length);
      if (stranded.length > 0) out.push(...(await this.fetch(stranded.map((entry) => entry.offset), "recover pending entries")));
      // More stranded entries than `max`: the consumer stays suspect, the next read takes the rest.
      if (stranded.length < unseen.length) break;
      if (page.length < PENDING_PAGE) {
        complete = true;
        break;
      }
      start = `(${page[page.length - 1]!.offset}`;
    }
    if (complete && this.connection.generation === generation) this.suspects.delete(consumer);
    return out;
  }

  /** The entries with these ids (XRANGE, pipelined: no delivery counted); ids deleted meanwhile are left out. */
  async fetch(ids: readonly string[], operation: string): Promise<RawEntry[]> {
    if (ids.length === 0) return [];
    const pipeline = this.connection.client.pipeline();
    for (const id of ids) (pipeline as unknown as { xrangeBuffer(...args: string[]): unknown }).xrangeBuffer(this.key, id, id);
    let replies: Array<[Error | null, unknown]>;
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (error) {
      throw this.translate(error, operation);
    }
    const out: RawEntry[] = [];
    for (const [error, reply] of replies) {
      if (error !== null) throw this.translate(error, operation);
      out.push(...parseEntries(reply).entries);
    }
    return out;
  }

  /**
   * Listens to a reader's signal once for the stream's life, not once per blocking slice. In the
   * memory buffer a listener added and removed per wait on the reader's long-lived signal kept each
   * wait's closure, and the batch it resolved with, alive across scavenges (design notes, session 10);
   * the same pattern here is avoided the same way (its `watchAbort`), though slices are far rarer.
   */
  private watchAbort(signal: AbortSignal): void {
    if (this.watchedSignals.has(signal)) return;
    this.watchedSignals.add(signal);
    signal.addEventListener("abort", () => this.abortWaitersOf(signal), { once: true });
  }

  private abortWaitersOf(signal: AbortSignal): void {
    for (const waiter of [...this.waiters]) if (waiter.signal === signal) waiter.onAbort();
  }

  /** One XREADGROUP BLOCK of at most `ms` on a pooled blocking client. */
  private waitSlice(consumer: string, max: number, ms: number, signal: AbortSignal | undefined): Promise<SliceOutcome> {
    let blocking: BlockingClient;
    try {
      blocking = this.connection.acquireBlocking();
    } catch (error) {
      return Promise.reject(this.translate(error, "read"));
    }
    const generation = blocking.generation;
    const blockMs = Math.max(1, Math.ceil(ms));
    const command = xreadgroup(blocking.client, "GROUP", this.group, consumer, "COUNT", max, "BLOCK", blockMs, "STREAMS", this.key, ">");
    return new Promise<SliceOutcome>((resolve, reject) => {
      let detached = false;
      const finish = (outcome: SliceOutcome | BufferError) => {
        if (detached) return;
        detached = true;
        this.waiters.delete(waiter);
        clearTimeout(guard);
        if (outcome instanceof BufferError) reject(outcome);
        else resolve(outcome);
      };
      // Woken, aborted while Redis is unreachable, or past the guard: return now, let the
      // command finish in the background (its entries, if any, are recovered later).
      const detach = () => finish({ kind: "none" });
      const onAbort = () => {
        // A connected client answers within the slice; only a dead one is not worth waiting for.
        if (blocking.client.status !== "ready") detach();
      };
      const guard = setTimeout(() => {
        this.suspects.add(consumer);
        finish(new BufferError("BUFFER_UNAVAILABLE", `${this.options.describe}: read: Redis did not answer a blocking read within ${blockMs + BLOCK_GRACE_MS} ms; retry once it is back`, { retriable: true }));
      }, blockMs + BLOCK_GRACE_MS);
      const waiter: SliceWaiter = { signal, detach, onAbort };
      this.waiters.add(waiter);
      if (signal !== undefined) this.watchAbort(signal);
      command.then(
        (reply) => {
          this.connection.releaseBlocking(blocking);
          const entries = parseStreamsReply(reply);
          // Resent (a reconnect): left pending, recovered in stream order with what its first run stranded (readNew).
          const resent = blocking.generation !== generation;
          if (resent) this.suspects.add(consumer);
          if (entries.length > 0 && (resent || detached || aborted(signal) || this.closed)) {
            this.suspects.add(consumer);
            finish({ kind: "none" });
            return;
          }
          finish(entries.length > 0 ? { kind: "entries", entries } : { kind: "none" });
        },
        (error: unknown) => {
          this.connection.releaseBlocking(blocking, true);
          // The command may have delivered entries before the connection went.
          this.suspects.add(consumer);
          if (this.closed || this.connection.isClosed) finish({ kind: "none" });
          else finish(this.translate(error, "read"));
        },
      );
    });
  }
}

/**
 * XREADGROUP with Buffer replies. Not `callBuffer("XREADGROUP", …)`: with auto-pipelining on,
 * ioredis 6 drops the command name of `call`/`callBuffer` and sends the arguments as a command.
 */
function xreadgroup(client: RedisClient, ...args: Array<string | number>): Promise<unknown> {
  return (client as unknown as { xreadgroupBuffer(...args: Array<string | number>): Promise<unknown> }).xreadgroupBuffer(...args);
}

/** Entries of both lists, each once, oldest first. */
function unionInStreamOrder(a: readonly RawEntry[], b: readonly RawEntry[]): RawEntry[] {
  const byId = new Map<string, RawEntry>();
  for (const entry of [...a, ...b]) byId.set(entry.id, entry);
  return [...byId.values()].sort((x, y) => compareEntryIds(x.id, y.id));
}

/** A function, not an inline check, so TypeScript does not keep a narrowing across awaits. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal !== undefined && signal.aborted;
}

/** Parses an XREADGROUP / XREAD reply for one stream (`null` or `[[key, entries]]`). */
export function parseStreamsReply(reply: unknown): RawEntry[];
/** Same, collecting ids of entries deleted while pending into `gone`, with page bookkeeping. */
export function parseStreamsReply(reply: unknown, gone: string[]): ParsedPage;
export function parseStreamsReply(reply: unknown, gone?: string[]): RawEntry[] | ParsedPage {
  const streams = reply as Array<[Buffer, unknown]> | null;
  const list = streams === null || streams.length === 0 ? [] : (streams[0] as [Buffer, unknown])[1];
  const page = parseEntries(list, gone);
  return gone === undefined ? page.entries : page;
}

/** Entries parsed from a list, with the raw count (deleted entries included) and the last id. */
export interface ParsedPage {
  readonly entries: RawEntry[];
  readonly count: number;
  readonly lastId: string | undefined;
}

/** Parses `[[id, [field, value, …] | null], …]`; entries deleted while pending (null) are left out. */
export function parseEntries(list: unknown, gone?: string[]): ParsedPage {
  const raw = (list ?? []) as Array<[Buffer | string, Buffer[] | null]>;
  const entries: RawEntry[] = [];
  let lastId: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const [idRaw, fields] = raw[i] as [Buffer | string, Buffer[] | null];
    const id = typeof idRaw === "string" ? idRaw : idRaw.toString("latin1");
    lastId = id;
    if (fields === null || fields.length === 0) gone?.push(id);
    else entries.push({ id, fields });
  }
  return { entries, count: raw.length, lastId };
}
