/**
 * The windows of one partition of a reduce vertex (issue #13, DESIGN §8), with no I/O: the sink
 * of a reduce vertex absorbs each epoch's messages, commits the epoch when its input is acked
 * (persisting the returned change in the same atomic step), then emits and forgets the windows
 * the watermark closed.
 *
 *   absorb(e, msgs) ──▶ pending epoch (late / failed reported; resent ids skipped)
 *   commit(e, wm)   ──▶ pending folded into the committed windows ──▶ WindowStateChange
 *   closable()      ──▶ committed windows with end + allowedLateness <= wm, results built
 *   forget(fields)  ──▶ emitted windows dropped
 *
 * Guarantees: a message counts once per epoch however often the epoch is redriven; an epoch
 * absorbed but never committed (its input not acked, so it is read again) leaves no trace; the
 * committed watermark never goes down; a keeper built from a store's windows and watermark
 * behaves as the keeper that wrote them. If persisting a change fails, rebuild the keeper from
 * the store: this one already holds the change.
 */
import type { Message } from "@weir/actors";
import type { GroupBySpec } from "../spec/reduce-spec.js";
import { EndIndex } from "./end-index.js";
import { ReduceError } from "./reduce-error.js";
import type { Reducer } from "./reducer.js";
import { decodeWindow, encodeWindow, windowContentOf, type WindowContent } from "./window-content.js";
import { toResultMessages } from "./window-results.js";
import type { WindowStateChange } from "./window-state.js";
import { coverOf, isSessionWindow, keysId, overlaps, parseWindowField, windowField, windowKeysOf, windowsOf, type WindowRange } from "./windows.js";

export type { WindowStateChange } from "./window-state.js";

export interface WindowKeeperOptions {
  readonly vertex: string;
  readonly partition: number;
  readonly groupBy: GroupBySpec;
  readonly reducer: Reducer;
  /** The partition's windows as a store loaded them (field → JSON), to resume after a restart. */
  readonly stored?: ReadonlyMap<string, string>;
  /** The partition's committed watermark as a store loaded it. */
  readonly watermark?: number;
}

export interface WindowKeeper {
  /** The committed watermark: late messages are judged against it. */
  readonly watermark: number | undefined;
  /** Idempotent per message id within an epoch; messages not reported are absorbed (ok). */
  absorb(epoch: number, messages: readonly Message[]): AbsorbOutcome;
  /** Folds the epoch in and raises the watermark; the change is what to persist with the ack. */
  commit(epoch: number, watermark: number | undefined): WindowStateChange;
  /** Windows with end + allowedLateness <= watermark, by end, results built. */
  closable(): Promise<ClosedWindow[]>;
  /** Drops windows (emitted ones) from the keeper; the store forgets them on its own. */
  forget(fields: readonly string[]): void;
  openWindows(): number;
  /** Size of the open windows' persisted state: characters of their JSON (bytes, for ASCII keys). */
  stateSize(): number;
  earliestOpenEnd(): number | undefined;
}

export interface AbsorbOutcome {
  readonly late: ReadonlyArray<{ message: Message; reason: string }>;
  readonly failed: ReadonlyArray<{ message: Message; reason: string }>;
}

export interface ClosedWindow {
  readonly field: string;
  readonly keys: readonly string[];
  readonly start: number;
  readonly end: number;
  readonly results: readonly Message[];
  /** Each result's tags, parallel to `results`, for conditional forwarding; absent when no result has any. */
  readonly tags?: ReadonlyArray<readonly string[] | undefined>;
}

/**
 * @example
 * const keeper = createWindowKeeper({ vertex: "counts", partition: 0, groupBy, reducer: countReducer, ...(await store.load(0)) });
 * const { late, failed } = keeper.absorb(epoch, messages);          // late/failed → fallback, the rest ok
 * await store.commit(0, offsets, keeper.commit(epoch, watermark), keeper.watermark);
 * const closed = await keeper.closable();                           // write closed[i].results downstream, then
 * keeper.forget(closed.map((w) => w.field)); await store.forget(0, closed.map((w) => w.field));
 */
export function createWindowKeeper(options: WindowKeeperOptions): WindowKeeper {
  const window = options.groupBy.window;
  if ("sliding" in window && window.sliding.slide > window.sliding.length) {
    // reduce-rules.ts refuses it in a spec; a message between two windows would vanish uncounted.
    throw new ReduceError("WINDOW_INVALID", `vertex '${options.vertex}': sliding slide (${window.sliding.slide}ms) is longer than length (${window.sliding.length}ms); make slide at most length`);
  }
  return new Keeper(options, windowContentOf(options.reducer));
}

interface WindowMeta extends WindowRange {
  readonly keys: readonly string[];
}

interface Editing<C> {
  readonly meta: WindowMeta;
  content: C;
}

interface PendingEpoch<C> {
  readonly epoch: number;
  readonly seen: Set<string>;
  /** field → the window as this epoch left it; null: removed (a session merged into another). */
  readonly windows: Map<string, Editing<C> | null>;
}

class Keeper<C> implements WindowKeeper {
  private readonly committed = new Map<string, string>();
  /**
   * Committed windows' contents as decoded, for immutable contents only: an epoch that touches a
   * window starts from it instead of parsing the committed JSON again (issue 12, session 11).
   */
  private readonly decoded = new Map<string, C>();
  private readonly metas = new Map<string, WindowMeta>();
  private readonly ends = new EndIndex();
  /** Sessions only: keys id → field → range, committed and pending (the view absorb works on). */
  private sessions = new Map<string, Map<string, WindowRange>>();
  private pending: PendingEpoch<C> | undefined;
  private committedWatermark: number | undefined;

  constructor(
    private readonly options: WindowKeeperOptions,
    private readonly content: WindowContent<C>,
  ) {
    this.committedWatermark = options.watermark;
    for (const [field, json] of options.stored ?? []) this.restore(field, json);
  }

  get watermark(): number | undefined {
    return this.committedWatermark;
  }

  absorb(epoch: number, messages: readonly Message[]): AbsorbOutcome {
    // Another epoch's leftovers were never acked: their messages come again, so they must not count.
    if (this.pending !== undefined && this.pending.epoch !== epoch) this.discardPending();
    const pending = (this.pending ??= { epoch, seen: new Set(), windows: new Map() });
    const late: Array<{ message: Message; reason: string }> = [];
    const failed: Array<{ message: Message; reason: string }> = [];
    for (const message of messages) {
      if (pending.seen.has(message.id)) continue;
      const lateReason = this.lateReason(message);
      if (lateReason !== undefined) {
        late.push({ message, reason: lateReason });
        continue;
      }
      try {
        this.place(pending, message);
        pending.seen.add(message.id);
      } catch (error) {
        failed.push({ message, reason: this.failureReason(message, error) });
      }
    }
    return { late, failed };
  }

  commit(epoch: number, watermark: number | undefined): WindowStateChange {
    const set = new Map<string, string>();
    const remove: string[] = [];
    if (this.pending?.epoch === epoch) {
      for (const [field, window] of this.pending.windows) {
        if (window === null) {
          if (this.committed.has(field)) remove.push(field);
          this.dropCommitted(field);
        } else {
          const json = encodeWindow(this.content, window.meta.keys, window.meta, window.content);
          if (!this.committed.has(field)) this.indexCommitted(field, window.meta);
          this.committed.set(field, json);
          if (this.content.immutable) this.decoded.set(field, window.content);
          set.set(field, json);
        }
      }
      this.pending = undefined;
    } else if (this.pending !== undefined) {
      this.discardPending();
    }
    if (watermark !== undefined && (this.committedWatermark === undefined || watermark > this.committedWatermark)) {
      this.committedWatermark = watermark;
    }
    return { set, remove };
  }

  async closable(): Promise<ClosedWindow[]> {
    const watermark = this.committedWatermark;
    if (watermark === undefined) return [];
    const closed: ClosedWindow[] = [];
    for (const field of this.ends.upTo(watermark - this.options.groupBy.allowedLateness)) {
      const meta = this.metas.get(field)!;
      const what = `${this.options.reducer.name} of vertex '${this.options.vertex}' on window ${field}`;
      let results: unknown;
      try {
        const content = this.committedContent(field);
        results = await this.content.results(content, meta.keys, { start: meta.start, end: meta.end }, { vertex: this.options.vertex, partition: this.options.partition });
      } catch (error) {
        if (error instanceof ReduceError) throw error;
        throw new ReduceError("REDUCER_FAILED", `${what} threw: ${errorText(error)}; fix the reducer (the window stays open until it succeeds)`, { cause: error });
      }
      const built = toResultMessages(this.options.vertex, meta.keys, meta, results, what);
      closed.push({ field, keys: meta.keys, start: meta.start, end: meta.end, results: built.messages, ...(built.tags === undefined ? {} : { tags: built.tags }) });
    }
    return closed;
  }

  forget(fields: readonly string[]): void {
    for (const field of fields) {
      const meta = this.metas.get(field);
      this.dropCommitted(field);
      this.pending?.windows.delete(field);
      if (meta !== undefined) this.forgetSession(meta.keys, field);
    }
  }

  openWindows(): number {
    return this.committed.size;
  }

  stateSize(): number {
    let size = 0;
    for (const json of this.committed.values()) size += json.length;
    return size;
  }

  earliestOpenEnd(): number | undefined {
    return this.ends.first();
  }

  private lateReason(message: Message): string | undefined {
    const watermark = this.committedWatermark;
    const lateness = this.options.groupBy.allowedLateness;
    if (watermark === undefined || message.eventTime >= watermark - lateness) return undefined;
    const allowed = lateness === 0 ? "" : ` − allowedLateness ${lateness}ms`;
    return `late: eventTime ${message.eventTime} < watermark ${watermark}${allowed}`;
  }

  /** Adds the message to its windows: all of them, or (when the reducer throws) none. */
  private place(pending: PendingEpoch<C>, message: Message): void {
    const keys = windowKeysOf(this.options.groupBy, message);
    const window = this.options.groupBy.window;
    if (isSessionWindow(window)) {
      this.placeInSession(pending, keys, message);
      return;
    }
    const updated = windowsOf(window, message.eventTime).map((range) => {
      const field = windowField(keys, range);
      const editing = this.editable(pending, field) ?? { meta: { keys, start: range.start, end: range.end }, content: this.content.create(keys, range) };
      return { field, editing: { meta: editing.meta, content: this.content.add(editing.content, message) } };
    });
    for (const { field, editing } of updated) pending.windows.set(field, editing);
  }

  /** The message's `[t, t + timeout)` joins every session of its keys it overlaps (DESIGN §8). */
  private placeInSession(pending: PendingEpoch<C>, keys: readonly string[], message: Message): void {
    const own: WindowRange = windowsOf(this.options.groupBy.window, message.eventTime)[0]!;
    const sessions = this.sessionsOf(keys) ?? new Map<string, WindowRange>();
    const hits = [...sessions].filter(([, range]) => overlaps(range, own)).sort(([, a], [, b]) => a.start - b.start);
    const cover = coverOf([own, ...hits.map(([, range]) => range)]);
    let content = hits.length === 0 ? this.content.create(keys, own) : this.editable(pending, hits[0]![0])!.content;
    for (const [field] of hits.slice(1)) content = this.content.merge(content, this.editable(pending, field)!.content);
    content = this.content.add(content, message);
    // Nothing threw: the merged session replaces the ones it covers.
    for (const [field] of hits) {
      sessions.delete(field);
      if (this.committed.has(field)) pending.windows.set(field, null);
      else pending.windows.delete(field);
    }
    const field = windowField(keys, cover);
    pending.windows.set(field, { meta: { keys, start: cover.start, end: cover.end }, content });
    sessions.set(field, cover);
    this.sessions.set(keysId(keys), sessions);
  }

  /** The window as this epoch sees it, for changing: the pending copy, else a fresh decode of the committed one. */
  private editable(pending: PendingEpoch<C>, field: string): Editing<C> | undefined {
    const edited = pending.windows.get(field);
    if (edited !== undefined) return edited ?? undefined;
    if (!this.committed.has(field)) return undefined;
    return { meta: this.metas.get(field)!, content: this.committedContent(field) };
  }

  /** A committed window's content: kept decoded (immutable contents), else parsed from its JSON. */
  private committedContent(field: string): C {
    return this.decoded.get(field) ?? decodeWindow(this.content, this.committed.get(field)!);
  }

  private discardPending(): void {
    this.pending = undefined;
    if (!isSessionWindow(this.options.groupBy.window)) return;
    this.sessions = new Map();
    for (const [field, meta] of this.metas) this.indexSession(field, meta);
  }

  private restore(field: string, json: string): void {
    const meta = parseWindowField(field);
    const where = `window ${field} of vertex '${this.options.vertex}' partition ${this.options.partition}`;
    if (meta === undefined) {
      throw new ReduceError("WINDOW_STATE_INVALID", `stored ${where} is no window field (<start>:<end>:<JSON keys>); reset the vertex's state (weir reset)`);
    }
    let content: C;
    try {
      content = decodeWindow(this.content, json);
    } catch (error) {
      throw new ReduceError(
        "WINDOW_STATE_INVALID",
        `stored ${where} cannot be read by ${this.options.reducer.name}: ${errorText(error)}; restore the reducer that wrote it, or reset the vertex's state (weir reset)`,
        { cause: error },
      );
    }
    this.committed.set(field, json);
    if (this.content.immutable) this.decoded.set(field, content);
    this.indexCommitted(field, meta);
  }

  private indexCommitted(field: string, meta: WindowMeta): void {
    this.metas.set(field, meta);
    this.ends.add(meta.end, field);
    if (isSessionWindow(this.options.groupBy.window)) this.indexSession(field, meta);
  }

  private indexSession(field: string, meta: WindowMeta): void {
    const id = keysId(meta.keys);
    const sessions = this.sessions.get(id) ?? new Map<string, WindowRange>();
    sessions.set(field, { start: meta.start, end: meta.end });
    this.sessions.set(id, sessions);
  }

  private dropCommitted(field: string): void {
    const meta = this.metas.get(field);
    if (meta === undefined) return;
    this.committed.delete(field);
    this.decoded.delete(field);
    this.metas.delete(field);
    this.ends.remove(meta.end, field);
  }

  private forgetSession(keys: readonly string[], field: string): void {
    const sessions = this.sessionsOf(keys);
    if (sessions?.delete(field) === true && sessions.size === 0) this.sessions.delete(keysId(keys));
  }

  private sessionsOf(keys: readonly string[]): Map<string, WindowRange> | undefined {
    return this.sessions.get(keysId(keys));
  }

  private failureReason(message: Message, error: unknown): string {
    if (error instanceof ReduceError && error.code === "MESSAGE_NOT_REDUCIBLE") return error.message;
    return `${this.options.reducer.name} failed on message '${message.id}': ${errorText(error)}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
