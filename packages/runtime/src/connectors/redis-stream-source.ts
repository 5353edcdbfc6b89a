/**
 * The `redisStream` source: reads existing Redis streams through a consumer group, one stream
 * per partition, in batches, and acknowledges a batch's entries only once its epoch commits
 * (DESIGN §2.1), so a crash re-delivers what was not committed.
 *
 * ```
 *   stream[p] ──XREADGROUP (group, consumer)──▶ read(p) ──▶ epoch … commit ──▶ ack(p) ──▶ XACK (+ XDEL)
 * ```
 *
 * On start each partition first re-reads this consumer's own pending entries (left by a previous
 * run with the same consumer name), then new ones. Entries become messages by field name:
 *
 * | field (default name) | message property | when the field is missing |
 * |---|---|---|
 * | `id` | `id`: its text, or `base64:<base64>` for bytes that are not UTF-8 (stream-message-id.ts) | `<stream>/<entry id>` (stable across redelivery) |
 * | `value` | `value` (bytes as stored) | the entry's fields as a JSON object |
 * | `keys` | `keys` (a JSON array, or one key as plain text) | `[]` |
 * | `eventTime` | `eventTime` (ms) | the entry id's time part |
 * | `headers` | `headers` (a JSON object of strings) | `{}` |
 *
 * which is exactly what the `redisStream` sink writes, so a stream written by one pipeline can
 * feed another.
 *
 * Ids are what dedup goes by: two entries with the same `id` are the same message to Weir. The
 * buffer the source writes drops the second within its dedup window when it lands on the same
 * partition (always without keys, or with the same keys) — counted `deduped` and logged by the
 * source vertex; with other keys it may land on another partition and be delivered too.
 */
import type { Message, ReadBatchOutput, ReadEntry } from "@weir/actors";
import { ConsumerGroupStream, type RawEntry } from "../buffer/redis/consumer-group-stream.js";
import { RedisConnection, type RedisConnectionOptions } from "../buffer/redis/redis-connection.js";
import { BufferError } from "../buffer/buffer-error.js";
import type { SourceConnector } from "./source-connector.js";
import { idFromBytes } from "./stream-message-id.js";

/** Names of the entry fields a message is read from (source) or written to (sink). */
export interface RedisStreamFieldNames {
  readonly id: string;
  readonly value: string;
  readonly keys: string;
  readonly eventTime: string;
  readonly headers: string;
}

export const DEFAULT_STREAM_FIELDS: RedisStreamFieldNames = { id: "id", value: "value", keys: "keys", eventTime: "eventTime", headers: "headers" };

export interface RedisStreamSourceOptions {
  /** A shared connection (never closed by the source) or options for one it owns. */
  readonly connection: RedisConnection | RedisConnectionOptions;
  /** The streams to read, one per partition (partition p reads `streams[p]`). */
  readonly streams: readonly string[];
  /** The consumer group; created if missing. */
  readonly group: string;
  /** This process's consumer name in the group: stable across restarts to re-read its pending entries. */
  readonly consumer: string;
  /** Where a group created here starts: `"0"` (the whole stream, default) or `"$"` (only entries added later). */
  readonly startFrom?: "0" | "$";
  /** Delete entries once acknowledged (default false: other groups may still need them). */
  readonly deleteOnAck?: boolean;
  /** End a partition once a read that waited its full timeout found nothing (default false: read forever). */
  readonly endWhenEmpty?: boolean;
  /** Field names, when they differ from the defaults. */
  readonly fields?: Partial<RedisStreamFieldNames>;
  /** Longest single blocking read, in ms (default 200). */
  readonly blockSliceMs?: number;
}

interface PartitionState {
  readonly stream: ConsumerGroupStream;
  readonly name: string;
  /** Pending entries not yet re-read: re-read from `pendingCursor` on. */
  pendingLeft: boolean;
  pendingCursor: string | undefined;
  ended: boolean;
}

const decoder = new TextDecoder();

/**
 * Creates a `redisStream` source.
 *
 * @example
 * ```ts
 * const source = createRedisStreamSource({
 *   connection: { url: "redis://127.0.0.1:6379" },
 *   streams: ["orders"], group: "weir-demo", consumer: "worker-1",
 * });
 * const pipeline = createPipeline(spec, { sources: { in: source } });
 * ```
 */
export function createRedisStreamSource(options: RedisStreamSourceOptions): SourceConnector {
  if (options.streams.length === 0) throw invalid("streams must name at least one stream (one per partition)");
  for (const [what, value] of [["group", options.group], ["consumer", options.consumer]] as const) {
    if (typeof value !== "string" || value.length === 0) throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  const fields = { ...DEFAULT_STREAM_FIELDS, ...options.fields };
  const owns = !(options.connection instanceof RedisConnection);
  const connection = options.connection instanceof RedisConnection ? options.connection : new RedisConnection(options.connection);
  const consumer = options.consumer;
  const deleteOnAck = options.deleteOnAck === true;
  const states: PartitionState[] = options.streams.map((name, p) => ({
    name,
    stream: new ConsumerGroupStream({
      connection,
      key: name,
      group: options.group,
      startId: options.startFrom ?? "0",
      blockSliceMs: options.blockSliceMs ?? 200,
      describe: `redisStream source "${name}" (partition ${p})`,
    }),
    pendingLeft: true,
    pendingCursor: undefined,
    ended: false,
  }));
  let closed = false;

  const state = (partition: number, operation: string): PartitionState => {
    if (closed) throw new BufferError("BUFFER_CLOSED", `redisStream source: ${operation} after close()`);
    const found = Number.isInteger(partition) ? states[partition] : undefined;
    if (found === undefined) {
      throw new BufferError("BUFFER_PARTITION_OUT_OF_RANGE", `redisStream source: ${operation} on partition ${partition}, but it reads ${states.length} stream(s)`);
    }
    return found;
  };

  const toEntries = (name: string, raw: readonly RawEntry[]): ReadEntry[] => raw.map((entry) => ({ offset: entry.id, message: toMessage(name, entry, fields) }));

  return {
    partitions: states.length,
    async read(partition, { max, timeoutMs, signal }): Promise<ReadBatchOutput> {
      const part = state(partition, "read");
      if (part.ended) return { entries: [], endOfStream: true };
      if (part.pendingLeft) {
        // Entries this consumer held when it last stopped come first, page by page.
        const batch = await part.stream.readPending(consumer, max, part.pendingCursor);
        if (batch.entries.length < max) part.pendingLeft = false;
        const last = batch.entries[batch.entries.length - 1];
        if (last !== undefined) part.pendingCursor = last.id;
        if (batch.entries.length > 0) return { entries: toEntries(part.name, batch.entries), endOfStream: false };
      }
      if (signal.aborted) return { entries: [], endOfStream: false };
      const batch = await part.stream.readNew(consumer, max, timeoutMs, signal);
      if (batch.entries.length === 0 && options.endWhenEmpty === true && !signal.aborted) part.ended = true;
      return { entries: toEntries(part.name, batch.entries), endOfStream: part.ended };
    },
    async ack(partition, offsets) {
      const part = state(partition, "ack");
      for (const offset of offsets) {
        if (!ConsumerGroupStream.isEntryId(offset)) {
          throw new BufferError("BUFFER_INVALID_OFFSET", `redisStream source "${part.name}": ack of ${JSON.stringify(offset)}, which is not a stream entry id`);
        }
      }
      await part.stream.ack(offsets, deleteOnAck);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const part of states) part.stream.close();
      if (owns) await connection.close();
    },
  };
}

/** Maps one stream entry to a message (see the table in the module doc). */
export function toMessage(stream: string, entry: RawEntry, names: RedisStreamFieldNames = DEFAULT_STREAM_FIELDS): Message {
  const byName = new Map<string, Buffer>();
  const list = entry.fields;
  for (let i = 0; i + 1 < list.length; i += 2) byName.set((list[i] as Buffer).toString("utf8"), list[i + 1] as Buffer);
  const id = byName.get(names.id);
  const value = byName.get(names.value);
  const keys = byName.get(names.keys);
  const eventTime = byName.get(names.eventTime);
  const headers = byName.get(names.headers);
  let bytes: Uint8Array;
  if (value !== undefined) {
    bytes = new Uint8Array(value.length);
    bytes.set(value);
  } else {
    const object: Record<string, string> = {};
    for (const [name, field] of byName) object[name] = field.toString("utf8");
    bytes = new TextEncoder().encode(JSON.stringify(object));
  }
  const time = eventTime === undefined ? Number.NaN : Number(eventTime.toString("latin1"));
  return {
    id: id === undefined ? `${stream}/${entry.id}` : idFromBytes(id),
    keys: keys === undefined ? [] : parseKeys(keys),
    value: bytes,
    eventTime: Number.isFinite(time) ? time : Number(entry.id.slice(0, entry.id.indexOf("-"))),
    headers: headers === undefined ? {} : parseHeaders(headers),
  };
}

function parseKeys(field: Buffer): string[] {
  const text = decoder.decode(field);
  if (text.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((key) => String(key));
    } catch {
      // not JSON: one key
    }
  }
  return text.length === 0 ? [] : [text];
}

function parseHeaders(field: Buffer): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(decoder.decode(field));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, String(value)]));
    }
  } catch {
    // not JSON: no headers
  }
  return {};
}

function invalid(message: string): BufferError {
  return new BufferError("BUFFER_INVALID_OPTIONS", `redisStream source: ${message}`);
}
