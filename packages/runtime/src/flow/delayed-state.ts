/**
 * What a parked message carries across its redeliveries (docs/flow-control.md, "Delayed
 * redelivery"): how often it was parked, and how many attempts of the retry strategy it has
 * used. Both travel in two `x-weir-*` headers of the parked copy, which the runtime strips before
 * the message reaches a sink or a udf (and so before a udf's results copy its headers downstream).
 *
 * The park identity `<parks + 1>:<id>` names one park of one delivery. It is a pure function of
 * the message as it was read, so a worker that re-processes the same delivery after a crash
 * (killed between the park and the ack) finds the identity already parked or released and does
 * not park it twice.
 */
import type { Message } from "@weir/actors";

/** Times the message was parked and brought back. */
export const PARKS_HEADER = "x-weir-redeliveries";
/** Attempts of the retry strategy its earlier deliveries used. */
export const ATTEMPTS_HEADER = "x-weir-attempts-spent";

/** The longest delay accepted: what a Node.js timer can wait (about 24.8 days). */
export const MAX_DELAY_MS = 2_147_483_647;

export interface DeliveryState {
  readonly parks: number;
  readonly attemptsSpent: number;
}

const FRESH: DeliveryState = Object.freeze({ parks: 0, attemptsSpent: 0 });

/** The state a message carries; a message never parked has `{ parks: 0, attemptsSpent: 0 }`. */
export function deliveryState(message: Message): DeliveryState {
  const headers = message.headers;
  const parks = headers[PARKS_HEADER];
  if (parks === undefined) return FRESH;
  return { parks: count(parks), attemptsSpent: count(headers[ATTEMPTS_HEADER]) };
}

/** The message without the runtime's headers (the very object when it has none). */
export function withoutState(message: Message): Message {
  if (message.headers[PARKS_HEADER] === undefined && message.headers[ATTEMPTS_HEADER] === undefined) return message;
  const headers: Record<string, string> = { ...message.headers };
  delete headers[PARKS_HEADER];
  delete headers[ATTEMPTS_HEADER];
  return { ...message, headers };
}

/** The copy to park: the user's message with the state it comes back with. */
export function withState(message: Message, state: DeliveryState): Message {
  return { ...message, headers: { ...withoutState(message).headers, [PARKS_HEADER]: String(state.parks), [ATTEMPTS_HEADER]: String(state.attemptsSpent) } };
}

/** The identity of the next park of `message` as read (see the module doc). */
export function parkIdentity(message: Message, state: DeliveryState = deliveryState(message)): string {
  return `${state.parks + 1}:${message.id}`;
}

/** Why `delayMs` cannot be used, or undefined when it can. */
export function invalidDelay(delayMs: unknown): string | undefined {
  if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    return `retryLater needs delayMs: a number of milliseconds from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(delayMs) ?? String(delayMs)}`;
  }
  return undefined;
}

function count(text: string | undefined): number {
  const value = Number(text);
  return Number.isInteger(value) && value >= 0 ? value : 0;
}
