/**
 * Writes messages that end `fallback` to the vertex's fallback sink, each stamped with why it
 * got there. Resolves only when the fallback sink answered `ok` for every one; otherwise it
 * throws and the sink session retries — a fallback never loses a message.
 */
import type { FallbackItem, FallbackWriteInput, Message, SinkFunction } from "@weir/actors";
import type { Logger } from "../observability/logger.js";

export const fallbackHeaders = {
  reason: "x-weir-fallback-reason",
  vertex: "x-weir-vertex",
  partition: "x-weir-partition",
  attempts: "x-weir-attempts",
} as const;

export function stampFallback(item: FallbackItem, input: FallbackWriteInput): Message {
  return {
    ...item.message,
    headers: {
      ...item.message.headers,
      [fallbackHeaders.reason]: item.reason,
      [fallbackHeaders.vertex]: input.vertex,
      [fallbackHeaders.partition]: String(input.partition),
      [fallbackHeaders.attempts]: String(item.attempts),
    },
  };
}

export type FallbackWrite = (input: FallbackWriteInput) => Promise<void>;

export function createFallbackWrite(write: SinkFunction | undefined, logger: Logger): FallbackWrite {
  if (write === undefined) {
    // No fallback sink configured (a sink answered `fallback` on its own, or a reduce vertex met
    // late messages): the messages are reported, loudly and with a reason, and counted as
    // fallback — never dropped silently. One line per write, not per message: a late burst of
    // thousands must not bury the log (the failure log's reason, issue #11).
    return async (input) => {
      const first = input.items[0];
      if (first === undefined) return;
      logger.error("messages sent to fallback, but the vertex has no fallback sink; add `fallback:` to keep them", {
        vertex: input.vertex,
        partition: input.partition,
        count: input.items.length,
        firstId: first.message.id,
        reason: first.reason,
        ...(input.items.length > 1 ? { lastId: input.items[input.items.length - 1]!.message.id, lastReason: input.items[input.items.length - 1]!.reason } : {}),
      });
    };
  }
  return async (input) => {
    const messages = input.items.map((item) => stampFallback(item, input));
    const controller = new AbortController();
    const results = await write(messages, {
      vertex: input.vertex,
      partition: input.partition,
      epoch: input.epoch,
      attempt: 1,
      signal: controller.signal,
    });
    const ok = new Set(results.filter((result) => result.status === "ok").map((result) => result.id));
    const missing = messages.filter((message) => !ok.has(message.id));
    if (missing.length > 0) {
      throw new Error(`the fallback sink did not accept ${missing.length} of ${messages.length} messages (first: ${missing[0]!.id})`);
    }
  };
}
