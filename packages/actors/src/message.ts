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

/** How every message ends: each input message gets exactly one of these. */
export type FinalStatus = "ok" | "fallback" | "dropped";
