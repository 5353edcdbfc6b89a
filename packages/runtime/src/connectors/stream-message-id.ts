/**
 * Message ids read from bytes (a `redisStream` entry's `id` field), without loss (DESIGN §10).
 *
 * An id is a string; a field is bytes. Decoding bytes that are not UTF-8 as UTF-8 replaces them
 * with U+FFFD, so `ff 41` and `fe 41` both became "\uFFFDA" and the buffer's dedup dropped the
 * second as a duplicate (issue #10 item 2). The mapping here is one-to-one:
 *
 * - bytes that are valid UTF-8 (a BOM kept) and do not start with `base64:` → that text, unchanged;
 * - any other bytes → `base64:` + their standard base64 (`ff 41` → `base64:/0E=`).
 *
 * The two sets of results cannot meet (only the second starts with `base64:`), so two different
 * byte strings never get the same id, and {@link idToBytes} gives the bytes back: the
 * `redisStream` sink writes them, so a stream copied through a pipeline keeps its ids.
 */
export const BINARY_ID_PREFIX = "base64:";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The id for `bytes`: their text when it is UTF-8 (and not `base64:…`), else `base64:<base64>`. */
export function idFromBytes(bytes: Uint8Array): string {
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !text.startsWith(BINARY_ID_PREFIX)) return text;
  return BINARY_ID_PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** The bytes an id was read from (the inverse of {@link idFromBytes}); UTF-8 for any other id. */
export function idToBytes(id: string): Buffer {
  return id.startsWith(BINARY_ID_PREFIX) ? Buffer.from(id.slice(BINARY_ID_PREFIX.length), "base64") : Buffer.from(id, "utf8");
}
