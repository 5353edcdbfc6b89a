/**
 * A map vertex's udf calls under `ordered` (issue #15 part 2): the forwarder maps an attempt in
 * per-key waves (ordered-waves.ts) — every udf call of a key starts after the previous one of
 * that key has finished — and then writes the results of every message that finished, in read
 * order, as it always does. A message whose udf failed holds back the later messages of its
 * key: they are not mapped, not written, and answered failed (retriable), so the next attempt
 * maps the key again from its first unfinished message.
 *
 *   forwarder attempt ──▶ mapInKeyOrder ──wave 0, wave 1, …──▶ mapAll (udf, timeouts, checks)
 *                     ◀── one result per message (outputs, or why it failed / was held back)
 *                     ──▶ route and write every finished message's outputs, in read order
 *
 * Writing after all waves keeps a key's order downstream too: a partition write is one batch in
 * read order, and a retried attempt re-writes behind what the buffer already holds (dedup by id).
 */
import type { Message, SinkContext } from "@weir/actors";
import { heldBackReason, isLastAttempt, retryLaterUnderOrderedReason, runInKeyOrder } from "./ordered-waves.js";
import type { KeyOrderOptions } from "./ordered-sink.js";

/** What the forwarder's `mapAll` answers per message: results, or why the message failed. */
type MapOutcome = { readonly error: string } | object;

/**
 * Maps `messages` in per-key waves through `mapWave` (the forwarder's own per-attempt mapping).
 *
 * @example
 * ```ts
 * const mapped = await mapInKeyOrder(order, messages, context, (wave) => mapAll(options, wave, context));
 * ```
 */
export async function mapInKeyOrder<R extends MapOutcome>(
  options: KeyOrderOptions,
  messages: readonly Message[],
  context: SinkContext,
  mapWave: (wave: readonly Message[]) => Promise<readonly R[]> | readonly R[],
): Promise<Array<R | { readonly error: string }>> {
  const outcome = await runInKeyOrder<R | { readonly error: string }>(
    messages,
    { lastAttempt: isLastAttempt(options.retry, context.attempt), signal: context.signal },
    {
      // A udf's retryLater (`{ laterMs }`) fails its message within the epoch, holding its key back.
      run: async (wave) => (await mapWave(wave)).map((result) => ("laterMs" in result ? { error: retryLaterUnderOrderedReason(result.laterMs) } : result)),
      blocks: (result) => result === undefined || "error" in result,
      heldBack: (_message, blocker) => ({ error: heldBackReason(blocker) }),
    },
  );
  if (outcome.heldBack > 0) options.onHeldBack?.(outcome.heldBack, context.attempt);
  // mapAll answers every message, so every position is filled.
  return outcome.results.map((result) => result ?? { error: "not mapped: the attempt was stopped" });
}
