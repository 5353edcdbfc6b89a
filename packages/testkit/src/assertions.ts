/**
 * Assertions over a `DeliveryLog`. Each throws an `AssertionError`-style Error naming the first
 * offending ids, so a failing property test says what went wrong, not only that it did.
 */
import type { Message } from "@weir/actors";
import type { DeliveryLog } from "./delivery-log.js";

function fail(message: string, ids: readonly string[]): never {
  const shown = ids.slice(0, 10).join(", ");
  throw new Error(`${message}: ${ids.length} id(s)${ids.length > 0 ? ` (${shown}${ids.length > 10 ? ", …" : ""})` : ""}`);
}

/** Every input id reached the sink with `ok` or the fallback sink, and was acked. */
export function assertEveryInputDelivered(inputs: readonly (readonly Message[])[], log: DeliveryLog): void {
  const ok = log.okCounts();
  const fallback = new Set(log.fallbackIds());
  const acked = new Set(log.ackedIds());
  const all = inputs.flat().map((message) => message.id);
  const undelivered = all.filter((id) => !ok.has(id) && !fallback.has(id));
  if (undelivered.length > 0) fail("inputs never delivered (no ok result, no fallback)", undelivered);
  const unacked = all.filter((id) => !acked.has(id));
  if (unacked.length > 0) fail("inputs never acked", unacked);
}

/** I1: no id was acked before the sink gave it a final result (ok or written to the fallback). */
export function assertNothingAckedBeforeResult(log: DeliveryLog): void {
  const final = new Set<string>();
  const early: string[] = [];
  for (const event of log.events) {
    if ((event.kind === "result" && event.status === "ok") || event.kind === "fallbackWritten") final.add(event.id);
    if (event.kind === "ack" && !final.has(event.id)) early.push(event.id);
  }
  if (early.length > 0) fail("acked before a final result", early);
}

export function assertNothingAckedTwice(log: DeliveryLog): void {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const id of log.ackedIds()) {
    if (seen.has(id)) twice.push(id);
    seen.add(id);
  }
  if (twice.length > 0) fail("acked more than once", twice);
}

/** I2: every result and ack of an id happened on the partition the id was read from. */
export function assertPartitionsKeptApart(inputs: readonly (readonly Message[])[], log: DeliveryLog): void {
  const home = new Map<string, number>();
  inputs.forEach((messages, partition) => messages.forEach((message) => home.set(message.id, partition)));
  const strays = log.events.filter((event) => home.has(event.id) && home.get(event.id) !== event.partition).map((event) => event.id);
  if (strays.length > 0) fail("results or acks attributed to another partition", strays);
}
