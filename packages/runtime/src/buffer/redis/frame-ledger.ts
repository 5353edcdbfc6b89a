/**
 * Per partition of the Redis buffer: which messages of framed entries (frames.ts) were acked
 * through this buffer object, so an entry is XACKed once all its messages are — and what is left
 * of a frame that a read could not hand out whole (`max` counts messages, XREADGROUP COUNT
 * entries), per consumer.
 *
 * An epoch usually acks all of an entry's messages at once: the entry's record is made and
 * dropped in the same call. A frame split across epochs keeps its record until its last message
 * is acked. A crash loses the records: the entry is still pending in Redis and is redelivered
 * whole, and downstream dedup drops what was already forwarded (counted as `deduped`).
 */
import type { ReadEntry } from "@weir/actors";
import type { FramedRun } from "./frames.js";

interface OpenEntry {
  readonly acked: Uint8Array;
  done: number;
  /** The acked prefix Redis has (the entry's `:frame-progress`): messages before it are acked for good. */
  persisted: number;
}

/** What marking a batch of offsets did, undone by `rollback` when the ack that follows fails. */
export interface LedgerMarks {
  /** Messages marked now that were not marked before. */
  readonly newly: number;
  /** Of those, the ones of entry `entry`. */
  newlyOf(entry: string): number;
  /** Entries whose messages are now all marked: `[entry id, message count]`. */
  readonly complete: ReadonlyArray<readonly [string, number]>;
  /** Entries not complete whose acked prefix grew past what Redis has: `[entry id, message count, prefix]`. */
  readonly advanced: ReadonlyArray<readonly [string, number, number]>;
  /** Unmarks what this call marked (the ack failed; the caller will send the offsets again). */
  rollback(): void;
  /** Forgets the complete entries (the ack succeeded). */
  commit(): void;
}

/** Entries remembered as acked, so a message acked again counts 0 (oldest forgotten first). */
const COMPLETED_KEPT = 4_096;

/** Offsets of handed-out entries kept for the ack's fast path, at most (oldest entries forgotten first). */
const HANDED_OUT_KEPT = 16_384;

/** Messages of one consumer's last read that it could not hand out yet. */
interface Carry {
  readonly entries: readonly ReadEntry[];
  next: number;
}

export class FrameLedger {
  private readonly open = new Map<string, OpenEntry>();
  private readonly carries = new Map<string, Carry>();
  /** Entries whose every message was acked here lately (insertion order = age). */
  private readonly completed = new Set<string>();
  /** Entries acked in part whose delivery count frameAck capped: the next hand-out counts one. */
  readonly capped = new Set<string>();
  /**
   * Per framed entry decoded lately, its offsets as made then (insertion order = age): an ack
   * that meets them in order compares each with the one expected (the same string: a pointer
   * comparison) instead of parsing it (issue 12). Forgotten when the entry is acked whole, or
   * oldest first past {@link HANDED_OUT_KEPT} offsets; the ack then parses, as before.
   */
  private readonly handedOut = new Map<string, readonly string[]>();
  private handedOutOffsets = 0;

  /** Remembers the offsets made for `entry`'s messages (see {@link offsetsOf}). */
  handOut(entry: string, offsets: readonly string[]): void {
    this.forgetOffsets(entry);
    this.handedOut.set(entry, offsets);
    this.handedOutOffsets += offsets.length;
    for (const [old, kept] of this.handedOut) {
      if (this.handedOutOffsets <= HANDED_OUT_KEPT || old === entry) break;
      this.handedOut.delete(old);
      this.handedOutOffsets -= kept.length;
    }
  }

  /** The offsets made for `entry`'s messages when it was last decoded here, if remembered. */
  offsetsOf(entry: string): readonly string[] | undefined {
    return this.handedOut.get(entry);
  }

  private forgetOffsets(entry: string): void {
    const kept = this.handedOut.get(entry);
    if (kept === undefined) return;
    this.handedOut.delete(entry);
    this.handedOutOffsets -= kept.length;
  }

  /**
   * Marks the messages of `runs` acked; see {@link LedgerMarks}. Work per run, not per message,
   * beyond one byte per message (issue 12): an epoch's ack is usually one run per entry.
   */
  mark(runs: readonly FramedRun[]): LedgerMarks {
    // Per run marked: its record and range; `single` lists the indexes it marked when the range
    // held marks already (a repeat), so a rollback unmarks only what this call marked.
    const marked: Array<{ readonly record: OpenEntry; readonly from: number; readonly to: number; readonly single?: number[] }> = [];
    const complete: Array<readonly [string, number]> = [];
    const perEntry = new Map<string, number>();
    for (const { entry, count, from, to } of runs) {
      if (this.completed.has(entry)) continue;
      const record = this.recordOf(entry, count);
      const acked = record.acked;
      let newly = 0;
      for (let i = from; i < to; i++) newly += 1 - (acked[i] as number);
      if (newly === 0) continue;
      if (newly === to - from) {
        acked.fill(1, from, to);
        marked.push({ record, from, to });
      } else {
        const single: number[] = [];
        for (let i = from; i < to; i++) {
          if (acked[i] === 1) continue;
          acked[i] = 1;
          single.push(i);
        }
        marked.push({ record, from, to, single });
      }
      record.done += newly;
      perEntry.set(entry, (perEntry.get(entry) ?? 0) + newly);
      if (record.done === count) complete.push([entry, count]);
    }
    const advanced: Array<readonly [string, number, number]> = [];
    const grown: Array<[OpenEntry, number]> = [];
    for (const entry of perEntry.keys()) {
      const record = this.open.get(entry) as OpenEntry;
      if (record.done === record.acked.length) continue;
      let prefix = record.persisted;
      while (prefix < record.acked.length && record.acked[prefix] === 1) prefix += 1;
      if (prefix > record.persisted) {
        advanced.push([entry, record.acked.length, prefix]);
        grown.push([record, prefix]);
      }
    }
    let newlyAll = 0;
    for (const n of perEntry.values()) newlyAll += n;
    return {
      newly: newlyAll,
      newlyOf: (entry) => perEntry.get(entry) ?? 0,
      complete,
      advanced,
      rollback: () => {
        for (const { record, from, to, single } of marked) {
          if (single === undefined) {
            record.acked.fill(0, from, to);
            record.done -= to - from;
          } else {
            for (const index of single) record.acked[index] = 0;
            record.done -= single.length;
          }
        }
      },
      commit: () => {
        for (const [record, prefix] of grown) record.persisted = prefix;
        for (const [entry] of complete) {
          this.capped.delete(entry);
          this.forgetOffsets(entry);
          this.open.delete(entry);
          this.completed.add(entry);
        }
        if (this.completed.size > COMPLETED_KEPT) {
          let excess = this.completed.size - COMPLETED_KEPT;
          for (const entry of this.completed) {
            if (excess-- <= 0) break;
            this.completed.delete(entry);
          }
        }
      },
    };
  }

  /**
   * Records that the first `prefix` messages of `entry` (of `count`) are acked for good (its
   * `:frame-progress`, read with a pending re-read or a claim), so acking the rest completes it.
   */
  seed(entry: string, count: number, prefix: number): void {
    if (prefix <= 0 || this.completed.has(entry)) return;
    const record = this.recordOf(entry, count);
    for (let i = 0; i < Math.min(prefix, count); i++) {
      if (record.acked[i] === 1) continue;
      record.acked[i] = 1;
      record.done += 1;
    }
    record.persisted = Math.max(record.persisted, Math.min(prefix, count));
  }

  /** The open record of `entry` (`count` messages), made when there is none or one of another size. */
  private recordOf(entry: string, count: number): OpenEntry {
    const known = this.open.get(entry);
    if (known !== undefined && known.acked.length === count) return known;
    const record: OpenEntry = { acked: new Uint8Array(count), done: 0, persisted: 0 };
    this.open.set(entry, record);
    return record;
  }

  /** Up to `max` messages left from `consumer`'s last read, or undefined when none are left. */
  takeCarried(consumer: string, max: number): ReadEntry[] | undefined {
    const carry = this.carries.get(consumer);
    if (carry === undefined) return undefined;
    const out = carry.entries.slice(carry.next, carry.next + max);
    carry.next += out.length;
    if (carry.next >= carry.entries.length) this.carries.delete(consumer);
    return out;
  }

  /** The offset of the last message handed out from `consumer`'s carry, when one is left. */
  carriedAfter(consumer: string): string | undefined {
    const carry = this.carries.get(consumer);
    return carry === undefined || carry.next === 0 ? undefined : (carry.entries[carry.next - 1] as ReadEntry).offset;
  }

  /**
   * Hands out at most `max` of `entries`; the rest is kept for `consumer`'s next read, after
   * anything kept before (a claim while a carry waits: nothing kept is ever dropped unread).
   */
  serve(consumer: string, entries: ReadEntry[], max: number): ReadEntry[] {
    if (entries.length <= max) return entries;
    const before = this.carries.get(consumer);
    const rest = before === undefined ? entries : [...before.entries.slice(before.next), ...entries.slice(max)];
    this.carries.set(consumer, before === undefined ? { entries: rest, next: max } : { entries: rest, next: 0 });
    return entries.slice(0, max);
  }

  /** Whether messages are kept for `consumer`. */
  hasCarry(consumer: string): boolean {
    return this.carries.has(consumer);
  }

  /** Drops what is kept for `consumer` (its entries stay pending in Redis and are re-read from there). */
  dropCarry(consumer: string): void {
    this.carries.delete(consumer);
  }

  clear(): void {
    this.open.clear();
    this.capped.clear();
    this.completed.clear();
    this.carries.clear();
    this.handedOut.clear();
    this.handedOutOffsets = 0;
  }
}
