/**
 * A message as it flows between vertices. Ids are unique per pipeline and stable across
 * redelivery, so every later stage can match results and deduplicate by id.
 */
export interface Message {
  readonly id: string;
  readonly keys: readonly string[];
  readonly value: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly eventTime: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** A message read from a buffer partition, with the offset that acknowledges it. */
export interface ReadEntry {
  readonly offset: string;
  readonly message: Message;
}

/** What a sink (or a map vertex's forwarder) says about one message of an attempt. */
export type SinkResult =
  | { readonly id: string; readonly status: "ok" }
  | { readonly id: string; readonly status: "failure"; readonly error: string }
  | { readonly id: string; readonly status: "fallback"; readonly reason: string };

/**
 * "Not now: bring this message back in `delayMs`." The runtime takes the message out of its epoch
 * (which commits) and redelivers it after the delay (docs/flow-control.md). Sessions never see it:
 * the runtime answers `ok` for the parked message on the sink's behalf.
 */
export type RetryLaterResult = { readonly id: string; readonly status: "retryLater"; readonly delayMs: number };

/** What a user's sink function may answer for one message: a {@link SinkResult} or `retryLater`. */
export type SinkAnswer = SinkResult | RetryLaterResult;

/** How every message ends: each input message gets exactly one of these. */
export type FinalStatus = "ok" | "fallback" | "dropped";
