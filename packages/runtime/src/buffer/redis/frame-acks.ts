/**
 * The framed entries' side of the Redis buffer's acks and re-reads (frames.ts, issue 12): an ack
 * marks messages in the partition's ledger and acknowledges an entry once all its messages are
 * (scripts.ts `frameAck`, which also records the acked prefix of an entry acked in part and caps
 * its delivery count); re-reads skip acked prefixes; a hand-out from the carry after a cap counts
 * a delivery (`frameDeliver`). Kept apart from redis-stream-buffer.ts, which calls them.
 */
import type { ReadEntry } from "@weir/actors";
import { ConsumerGroupStream } from "./consumer-group-stream.js";
import type { FrameLedger } from "./frame-ledger.js";
import { parseFramedOffset, type FramedRun } from "./frames.js";
import type { PartitionKeys } from "./keys.js";
import type { RedisClient } from "./redis-connection.js";
import { RespArgs } from "./resp-args.js";
import { runScriptWith } from "./script-command.js";
import { runScript } from "./scripts.js";
import { compareEntryIds } from "./entry-ids.js";

/** One partition of a Redis buffer, as these functions need it. */
export interface FramedPartition {
  readonly client: RedisClient;
  /** The consumer group (the buffer's name). */
  readonly group: string;
  readonly keys: PartitionKeys;
  readonly stream: ConsumerGroupStream;
  readonly ledger: FrameLedger;
  /** An entry acked in part keeps at most this delivery count; 0: no cap. */
  readonly deliveryCap: number;
}

/**
 * An ack with offsets of framed entries (frames.ts, parsed into runs) and plain entry ids (validated):
 * the framed ones' messages are marked in the
 * partition's ledger, and an entry is XACKed (scripts.ts `frameAck`) once all its messages are.
 * Plain entry ids among them are acked as one message each. Returns the messages newly acked:
 * of frames, as the ledger counts them (a message of a frame this object saw acked before counts
 * 0); of plain entries, as XACK counts.
 */
export async function ackFramed(part: FramedPartition, plainIds: readonly string[], framed: readonly FramedRun[]): Promise<number> {
  const marks = part.ledger.mark(framed);
  // Per entry to XACK its message count (-1: plain); entries acked in part go with their prefix.
  const counts = new Map<string, number>();
  for (const id of plainIds) counts.set(id, -1);
  for (const [entry, count] of marks.complete) counts.set(entry, count);
  if (counts.size === 0 && marks.advanced.length === 0) return marks.newly;
  // Entries acked in part stay handed out (still pending here): only the others go to ackThrough.
  const ids = [...counts.keys()].sort(compareEntryIds);
  const partial = [...marks.advanced];
  let plain = 0;
  let already = 0;
  try {
    await part.stream.ackThrough(
      ids,
      async (distinct) => {
        let bound = RespArgs.stringBound(part.group) + RespArgs.bulkBound(11);
        for (let i = 0; i < distinct.length; i++) bound += RespArgs.bulkBound((distinct[i] as string).length) + RespArgs.bulkBound(11) * 2;
        for (const [entry] of partial) bound += RespArgs.bulkBound(entry.length) + RespArgs.bulkBound(11) * 2;
        const keys = [part.keys.stream, part.keys.length, part.keys.frameProgress];
        const reply = (await runScriptWith(part.client, "frameAck", keys, bound, (args) => {
          args.string(part.group);
          args.number(part.deliveryCap);
          for (let i = 0; i < distinct.length; i++) {
            const id = distinct[i] as string;
            const count = counts.get(id) as number;
            args.latin1(id);
            args.number(count);
            args.number(count);
          }
          for (const [entry, count, prefix] of partial) {
            args.latin1(entry);
            args.number(count);
            args.number(prefix);
          }
        })) as number[];
        let acked = 0;
        for (let i = 0; i < distinct.length; i++) {
          const id = distinct[i] as string;
          if (reply[i] === 1) acked += 1;
          if (counts.get(id) === -1) plain += reply[i] as number;
          // A frame acked before (by another object, or a claim's new owner): its messages count 0.
          else if (reply[i] === 0) already += marks.newlyOf(id);
        }
        partial.forEach(([entry], i) => {
          if (reply[distinct.length + i] === 2) part.ledger.capped.add(entry);
        });
        return acked;
      },
      true,
    );
  } catch (error) {
    marks.rollback();
    throw error;
  }
  marks.commit();
  return marks.newly - already + plain;
}

/**
 * A message of `entry` goes out from the carry after frameAck capped the entry's delivery
 * count (it was acked in part): that hand-out is a delivery of the entry's first unacked
 * message, counted now (scripts.ts `frameDeliver`), as a re-read would count it.
 */
export async function countCappedDelivery(part: FramedPartition, entry: string): Promise<void> {
  if (!part.ledger.capped.delete(entry)) return;
  try {
    await runScript(part.client, "frameDeliver", [part.keys.stream], [part.group, entry]);
  } catch (error) {
    part.ledger.capped.add(entry);
    throw part.stream.translate(error, "count a delivery");
  }
}

/**
 * Drops the messages of framed entries that an earlier ack acknowledged for good (the entry's
 * `:frame-progress`, written when it was acked in part), and tells the ledger, so acking the
 * rest completes the entry. For re-read pending entries and claims: a new entry has none.
 */
export async function withoutAckedPrefixes(part: FramedPartition, entries: ReadEntry[]): Promise<ReadEntry[]> {
  const framed = new Map<string, number>();
  for (const entry of entries) {
    const parsed = parseFramedOffset(entry.offset);
    if (parsed !== undefined && parsed.index === 0) framed.set(parsed.entry, parsed.count);
  }
  if (framed.size === 0) return entries;
  const ids = [...framed.keys()];
  let prefixes: Array<string | null>;
  try {
    prefixes = await part.client.hmget(part.keys.frameProgress, ...ids);
  } catch (error) {
    throw part.stream.translate(error, "read frame progress");
  }
  const acked = new Map<string, number>();
  ids.forEach((id, i) => {
    const prefix = Number(prefixes[i] ?? 0);
    if (prefix > 0) {
      acked.set(id, prefix);
      part.ledger.seed(id, framed.get(id) as number, prefix);
    }
  });
  if (acked.size === 0) return entries;
  return entries.filter((entry) => {
    const parsed = parseFramedOffset(entry.offset);
    return parsed === undefined || parsed.index >= (acked.get(parsed.entry) ?? 0);
  });
}

