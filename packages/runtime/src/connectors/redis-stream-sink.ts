/**
 * The `redisStream` sink: appends each message to a Redis stream, idempotently by message id.
 *
 * A batch is one call of the buffers' `write` script (scripts.ts): ids written within
 * `dedupWindowMs` are skipped in the same atomic step as the XADDs, so a batch retried after a
 * timeout, a lost reply or a crash before the epoch committed is written once (DESIGN I6:
 * exactly-once output within the window). The dedup set lives in the stream's own cluster slot
 * (keys.ts `sinkDedupKey`).
 *
 * Each entry has the fields `id`, `value` (the bytes as they are), `keys` (JSON array),
 * `eventTime` (ms, decimal) and `headers` (JSON object), which the `redisStream` source reads
 * back as the same message.
 */
import type { Message, SinkResult } from "@weir/actors";
import { DEFAULT_KEY_PREFIX, sinkDedupKey } from "../buffer/redis/keys.js";
import { RedisConnection, type RedisConnectionOptions } from "../buffer/redis/redis-connection.js";
import { runScript } from "../buffer/redis/scripts.js";
import { BufferError } from "../buffer/buffer-error.js";
import { DEFAULT_STREAM_FIELDS, type RedisStreamFieldNames } from "./redis-stream-source.js";
import { sinkConnectorFromFunction, type SinkConnector } from "./sink-connector.js";
import { idToBytes } from "./stream-message-id.js";

export interface RedisStreamSinkOptions {
  /** A shared connection (never closed by the sink) or options for one it owns. */
  readonly connection: RedisConnection | RedisConnectionOptions;
  /** The stream to append to. */
  readonly stream: string;
  /** Prefix of the sink's dedup key (default `"weir"`). */
  readonly keyPrefix?: string;
  /** How long a written id is remembered to skip a duplicate, in ms (default 600 000); 0 disables dedup. */
  readonly dedupWindowMs?: number;
  /** Keep the stream near this many entries (XADD MAXLEN ~); default: no trimming. */
  readonly maxLen?: number;
  /** Field names, when they differ from the defaults. */
  readonly fields?: Partial<RedisStreamFieldNames>;
  /** Told how many messages of a write the dedup window already held (answered ok, not appended again). */
  readonly onDeduped?: (count: number, reason: string) => void;
}

/**
 * Creates a `redisStream` sink.
 *
 * @example
 * ```ts
 * const sink = createRedisStreamSink({ connection: { url: "redis://127.0.0.1:6379" }, stream: "enriched" });
 * const pipeline = createPipeline(spec, { sinks: { out: sink } });
 * ```
 */
export function createRedisStreamSink(options: RedisStreamSinkOptions): SinkConnector {
  const { stream } = options;
  if (typeof stream !== "string" || stream.length === 0) {
    throw new BufferError("BUFFER_INVALID_OPTIONS", `redisStream sink: stream must be a non-empty stream name, got ${JSON.stringify(stream)}`);
  }
  const window = options.dedupWindowMs ?? 600_000;
  const maxLen = options.maxLen ?? 0;
  for (const [what, value] of [["dedupWindowMs", window], ["maxLen", maxLen]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new BufferError("BUFFER_INVALID_OPTIONS", `redisStream sink: ${what} must be an integer ≥ 0, got ${value}`);
  }
  const dedup = sinkDedupKey(options.keyPrefix ?? DEFAULT_KEY_PREFIX, stream);
  const names = { ...DEFAULT_STREAM_FIELDS, ...options.fields };
  const owns = !(options.connection instanceof RedisConnection);
  const connection = options.connection instanceof RedisConnection ? options.connection : new RedisConnection(options.connection);
  const head = [0, window, 0, "", maxLen, 5, names.id, names.value, names.keys, names.eventTime, names.headers];

  const write = async (messages: readonly Message[]): Promise<readonly SinkResult[]> => {
    if (messages.length === 0) return [];
    const args: Array<string | number | Buffer | Uint8Array> = [...head];
    for (const message of messages) {
      // The id field gets the bytes the id was read from (a binary id round-trips, stream-message-id.ts).
      args.push(message.id, idToBytes(message.id), toBuffer(message.value), JSON.stringify(message.keys), String(message.eventTime), JSON.stringify(message.headers));
    }
    // KEYS[3] (end of stream) is unused with 0 upstreams; the dedup key stands in, in the same slot.
    const reply = (await runScript(connection.client, "write", [stream, dedup, dedup], args as Array<string | number | Buffer>)) as [number, number] | number;
    const processed = typeof reply === "number" ? 0 : reply[0];
    const deduped = typeof reply === "number" ? 0 : processed - reply[1];
    if (deduped > 0) options.onDeduped?.(deduped, `ids already appended to ${stream} within the sink's dedup window`);
    return messages.map((message, i): SinkResult =>
      i < processed ? { id: message.id, status: "ok" } : { id: message.id, status: "failure", error: `redisStream sink: ${stream} took ${processed} of ${messages.length} messages` },
    );
  };

  return sinkConnectorFromFunction(write, {
    close: async () => {
      if (owns) await connection.close();
    },
  });
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
