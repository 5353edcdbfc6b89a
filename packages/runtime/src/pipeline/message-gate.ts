/**
 * Keeps poison and malformed messages from a vertex's udf or sink: every message of an attempt
 * is checked before the attempt reaches them, and one that fails is answered
 * `{ status: "fallback", reason }` on their behalf — so the sink session writes it to the
 * vertex's fallback sink with the reason, as it does for a sink's own `fallback` answer.
 *
 *   messages ──size ≤ maxMessageSize?──▶ UTF-8?──▶ JSON?──▶ schema?──┬─ accepted ──▶ udf / sink
 *                                                                   └─ refused ──▶ fallback (reason)
 *
 * Reasons: `oversized: 2048 bytes > maxMessageSize 1024`, `invalid message: the value is not valid
 * UTF-8`, `invalid message: the value is not JSON (…)`, `invalid message: /amount: must be number`.
 * The value is only decoded when there is a schema; a size limit alone reads the length.
 */
import type { Message, SinkResult } from "@weir/actors";
import type { MessageValidator } from "./message-schema.js";

export interface MessageGate {
  /** Why `message` may not pass, or `undefined` when it may. Never throws. */
  check(message: Message): string | undefined | Promise<string | undefined>;
}

export interface MessageGateOptions {
  /** Largest value accepted, in bytes. */
  readonly maxMessageSize?: number;
  /** The vertex's schema, over the value parsed as UTF-8 JSON. */
  readonly validate?: MessageValidator;
}

/** What a gate made of an attempt's messages. */
export interface SortedMessages {
  /** The messages that passed, in their order; the very input array when all passed. */
  readonly accepted: readonly Message[];
  /** One `fallback` result per refused message. */
  readonly refused: readonly SinkResult[];
}

// fatal: invalid UTF-8 is a refusal, not U+FFFD quietly passed on to the schema.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The gate of a vertex, or `undefined` when it has nothing to check.
 *
 * @example
 * ```ts
 * const gate = createMessageGate({ maxMessageSize: 1024, validate: await loadMessageValidator("out", spec) });
 * const { accepted, refused } = await sortMessages(gate!, messages);
 * ```
 */
export function createMessageGate(options: MessageGateOptions): MessageGate | undefined {
  const { maxMessageSize, validate } = options;
  if (maxMessageSize === undefined && validate === undefined) return undefined;
  return {
    check(message) {
      const size = message.value.byteLength;
      if (maxMessageSize !== undefined && size > maxMessageSize) return `oversized: ${size} bytes > maxMessageSize ${maxMessageSize}`;
      if (validate === undefined) return undefined;
      let text: string;
      try {
        text = strictUtf8.decode(message.value);
      } catch {
        return "invalid message: the value is not valid UTF-8";
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return `invalid message: the value is not JSON (${(error as Error).message})`;
      }
      try {
        const verdict = validate(value);
        return verdict instanceof Promise ? verdict.then(asReason, threw) : asReason(verdict);
      } catch (error) {
        return threw(error);
      }
    },
  };
}

/** Splits an attempt's messages into those that pass and `fallback` answers for the rest. */
export async function sortMessages(gate: MessageGate, messages: readonly Message[]): Promise<SortedMessages> {
  const verdicts: Array<string | undefined | Promise<string | undefined>> = new Array(messages.length);
  let pending = false;
  for (let i = 0; i < messages.length; i += 1) {
    const verdict = gate.check(messages[i]!);
    if (verdict instanceof Promise) pending = true;
    verdicts[i] = verdict;
  }
  const reasons = pending ? await Promise.all(verdicts) : (verdicts as Array<string | undefined>);
  if (reasons.every((reason) => reason === undefined)) return { accepted: messages, refused: [] };
  const accepted: Message[] = [];
  const refused: SinkResult[] = [];
  reasons.forEach((reason, i) => {
    const message = messages[i]!;
    if (reason === undefined) accepted.push(message);
    else refused.push({ id: message.id, status: "fallback", reason });
  });
  return { accepted, refused };
}

function asReason(verdict: string | undefined): string | undefined {
  return verdict === undefined ? undefined : `invalid message: ${verdict}`;
}

// A schema that throws is broken for this value; retrying would throw again, so it is refused.
function threw(error: unknown): string {
  return `invalid message: the schema check threw: ${error instanceof Error ? error.message : String(error)}`;
}
