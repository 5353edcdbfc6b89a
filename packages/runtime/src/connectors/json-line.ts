import type { Message } from "@weir/actors";

// ignoreBOM: a value that starts with U+FEFF keeps it; the line must say what the bytes held.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * One JSON object per line, as the `jsonl` sink writes it: id, keys, value (UTF-8 text),
 * eventTime, partition, and headers when the message has any.
 *
 * @example
 * ```ts
 * toJsonLine({ id: "in-0-1", keys: [], value: new TextEncoder().encode("hi"), eventTime: 0, headers: {} }, 2);
 * // '{"id":"in-0-1","keys":[],"value":"hi","eventTime":0,"partition":2}'
 * ```
 */
export function toJsonLine(message: Message, partition: number): string {
  const line: Record<string, unknown> = {
    id: message.id,
    keys: message.keys,
    value: decoder.decode(message.value),
    eventTime: message.eventTime,
    partition,
  };
  if (Object.keys(message.headers).length > 0) line["headers"] = message.headers;
  return JSON.stringify(line);
}
