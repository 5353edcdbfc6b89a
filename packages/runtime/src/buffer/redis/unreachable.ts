/**
 * A Redis that never answered: a wrong host or port, nothing listening, or a port that accepts
 * connections but does not speak Redis. A reconnect gets the same answer, so {@link RedisConnection}
 * fails such a connection after a few seconds with `BUFFER_UNREACHABLE` (not retriable) instead of
 * retrying for half a minute. A server that answered once and went away is retried forever: that
 * is a restart or a network blip, which passes.
 */
import { BufferError } from "../buffer-error.js";

/** How long a new connection may wait for Redis's first answer. */
export const DEFAULT_FIRST_ANSWER_TIMEOUT_MS = 5_000;

/**
 * The error for a connection that got no answer within `waitedMs`.
 *
 * @param shownUrl the URL with any password masked.
 * @param urlField where the user sets that URL, e.g. `spec.buffer.url`.
 * @param lastError the last connection error (`connect ECONNREFUSED …`), if any: none means the
 *   port accepted the connection and stayed silent.
 *
 * @example
 * ```ts
 * neverAnswered("redis://127.0.0.1:6390", "spec.buffer.url", 5000, "connect ECONNREFUSED 127.0.0.1:6390").message;
 * // "Redis at redis://127.0.0.1:6390 never answered in 5 s (connect ECONNREFUSED 127.0.0.1:6390): check the host and port in spec.buffer.url, that Redis runs there, and that this host can reach it"
 * ```
 */
export function neverAnswered(shownUrl: string, urlField: string, waitedMs: number, lastError: string | undefined): BufferError {
  const seconds = `${Math.round(waitedMs / 100) / 10} s`;
  const message =
    lastError === undefined
      ? `Redis at ${shownUrl} accepted the connection but never answered in ${seconds}: check that the port in ${urlField} is a Redis server's (not another service's) and that the server is not stalled`
      : `Redis at ${shownUrl} never answered in ${seconds} (${lastError}): check the host and port in ${urlField}, that Redis runs there, and that this host can reach it`;
  return new BufferError("BUFFER_UNREACHABLE", message, { retriable: false });
}

/** A URL as it may be shown: any password replaced with `***`. */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, "//***@");
}
