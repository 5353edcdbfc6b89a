/**
 * Ordered processing per key (issue #15 part 2): runs one attempt's messages in **waves** that
 * hold at most one message per key — the first unfinished message of every key — so a key's
 * messages reach the udf or sink one after the other, in the order they were read, while
 * different keys go together.
 *
 *   attempt [a1 b1 a2 c1 a3 b2]   (letter = key)
 *     wave 0 ──▶ [a1 b1 c1]   a1 fails ──▶ key a blocked behind a1
 *     wave 1 ──▶ [b2]         a2 held back (not sent)
 *     wave 2 ──▶ []           a3 held back
 *   results: a1 failure, a2/a3 failure "held back behind 'a1' (ordered)", b1 b2 c1 as answered
 *
 * A held-back message is reported failed (retriable) and never sent, so the session's retry —
 * which re-sends the unsettled subset in its original order — sends the key again from its
 * first unfinished message. A message whose fate is final unblocks its key: an `ok`, a
 * `fallback` answer, and any failure in the last attempt the retry strategy allows (it then
 * goes to `onFailure`: fallback or drop). Keyless messages carry no order: they all go in the
 * first wave.
 */
import { maxAttempts, type Message, type RetryPolicy } from "@weir/actors";

/** How one run of the waves judges its results. */
export interface WavePlan<R> {
  /** Processes one wave (its messages in read order); answers by position. */
  run(wave: readonly Message[]): Promise<ReadonlyArray<R | undefined>>;
  /** True when `result` (undefined: no answer) leaves its message unfinished, so its key must wait. */
  blocks(result: R | undefined): boolean;
  /** The answer for a message that was not sent because `blocker`, of the same key, did not finish. */
  heldBack(message: Message, blocker: Message): R;
}

export interface WaveOutcome<R> {
  /** By input position; undefined where `run` gave no answer. */
  readonly results: ReadonlyArray<R | undefined>;
  /** Messages not sent because an earlier message of their key did not finish. */
  readonly heldBack: number;
  /** How many times `run` was called. */
  readonly waves: number;
}

const HELD_BACK = " (ordered)";

/** The reason a held-back message gives; the session keeps it as the message's last error. */
export function heldBackReason(blocker: Message): string {
  return `held back behind '${blocker.id}'${HELD_BACK}`;
}

/**
 * Why a `retryLater` answer under `ordered` is a retriable failure instead: parked, its message
 * would leave the epoch and let the rest of its key pass it; failed, the key is held back and the
 * session's retry strategy sends it again. Sinks (ordered-sink.ts) and udfs (ordered-map.ts) alike.
 */
export function retryLaterUnderOrderedReason(delayMs: unknown): string {
  const asked = typeof delayMs === "number" ? ` (asked for ${delayMs} ms)` : "";
  return `retryLater${asked} under ordered: retried within its epoch so its key keeps its order`;
}

/** True for the error text of a held-back message (it is no failure of the udf or sink). */
export function isHeldBackReason(error: string): boolean {
  return error.startsWith("held back behind '") && error.endsWith(HELD_BACK);
}

/**
 * The identity of a message's keys: messages with the same list of keys share an order. Keyless
 * messages have none (`undefined`). A single key is used as it is (the common case, no string
 * built); anything else is an encoding that cannot collide with a single key.
 */
export function orderKeyOf(message: Message): string | undefined {
  const { keys } = message;
  if (keys.length === 0) return undefined;
  if (keys.length === 1 && keys[0]!.charCodeAt(0) !== 0) return keys[0]!;
  return `\u0000${JSON.stringify(keys)}`;
}

/**
 * True when the retry strategy gives a message failing in `attempt` no further attempt: it then
 * ends in `onFailure` (fallback or drop), and its key may go on in the same attempt.
 */
export function isLastAttempt(policy: RetryPolicy, attempt: number): boolean {
  return policy.onFailure !== "retry" && attempt >= maxAttempts(policy);
}

/**
 * Runs `messages` in per-key waves (see the module comment). With at most one message per key
 * (or none keyed) it is one call of `plan.run` with the messages as given: no cost.
 *
 * @example
 * ```ts
 * const { results } = await runInKeyOrder(messages, { lastAttempt: false, signal }, {
 *   run: (wave) => mapEach(wave),
 *   blocks: (result) => result === undefined || "error" in result,
 *   heldBack: (message, blocker) => ({ error: heldBackReason(blocker) }),
 * });
 * ```
 */
export async function runInKeyOrder<R>(
  messages: readonly Message[],
  options: { readonly lastAttempt: boolean; readonly signal?: AbortSignal },
  plan: WavePlan<R>,
): Promise<WaveOutcome<R>> {
  const waves = planWaves(messages);
  if (waves.length <= 1) return { results: await plan.run(messages), heldBack: 0, waves: 1 };
  const results = new Array<R | undefined>(messages.length);
  // Key → the message its key waits behind (it did not finish in this attempt).
  const blockedBy = new Map<string, Message>();
  let heldBack = 0;
  let calls = 0;
  for (const positions of waves) {
    const sending: number[] = [];
    for (const position of positions) {
      const message = messages[position]!;
      const key = orderKeyOf(message);
      const blocker = key === undefined ? undefined : blockedBy.get(key);
      if (blocker !== undefined) {
        results[position] = plan.heldBack(message, blocker);
        heldBack += 1;
      } else if (options.signal?.aborted === true) {
        // The session gave the attempt up: send nothing more; what is unanswered is redriven.
        results[position] = undefined;
      } else {
        sending.push(position);
      }
    }
    if (sending.length === 0) continue;
    const wave = sending.map((position) => messages[position]!);
    const answers = await plan.run(wave);
    calls += 1;
    for (let i = 0; i < sending.length; i += 1) {
      const position = sending[i]!;
      const answer = answers[i];
      results[position] = answer;
      if (!options.lastAttempt && plan.blocks(answer)) {
        const key = orderKeyOf(messages[position]!);
        if (key !== undefined) blockedBy.set(key, messages[position]!);
      }
    }
  }
  return { results, heldBack, waves: calls };
}

/**
 * Positions of `messages` grouped by wave: wave n holds the (n+1)-th message of every key, in
 * read order; keyless messages are all in wave 0. One pass, no sort.
 */
export function planWaves(messages: readonly Message[]): number[][] {
  const seen = new Map<string, number>();
  const waves: number[][] = [[]];
  for (let i = 0; i < messages.length; i += 1) {
    const key = orderKeyOf(messages[i]!);
    let rank = 0;
    if (key !== undefined) {
      rank = seen.get(key) ?? 0;
      seen.set(key, rank + 1);
    }
    if (rank === waves.length) waves.push([]);
    waves[rank]!.push(i);
  }
  return waves;
}
