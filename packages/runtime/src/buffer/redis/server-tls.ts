/**
 * Which connections a redis buffer's TLS settings (`spec.buffer.tls`) apply to: every rediss://
 * connection the pipeline opens to the buffer's server — same host and port as `buffer.url`,
 * whatever the credentials or db — so a bullmq queue without its own `url` (it defaults to the
 * buffer's) and a redisStream source or sink on the buffer's Redis trust the same CA and present
 * the same client certificate. A rediss:// connection to another server keeps Node's defaults
 * (add a private CA for all of them with NODE_EXTRA_CA_CERTS): a `ca` replaces the trusted CAs,
 * and a `servername` names one host, so neither may leak to another server.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";

/** TLS options for one Redis server. */
export interface ServerTls {
  /** A URL of the server; only its host and port matter. */
  readonly url: string;
  readonly tls: TlsOptions;
}

/**
 * `server.tls` when `url` is rediss:// on the server's host and port, else `undefined`.
 *
 * @example
 * ```ts
 * const server = { url: "rediss://cache:6380", tls: { ca } };
 * tlsFor("rediss://app:pw@cache:6380/2", server); // { ca }
 * tlsFor("rediss://other:6380", server);          // undefined
 * tlsFor("redis://cache:6380", server);           // undefined: not TLS
 * ```
 */
export function tlsFor(url: string, server: ServerTls | undefined): TlsOptions | undefined {
  if (server === undefined) return undefined;
  const target = endpoint(url);
  if (target === undefined || !target.tls) return undefined;
  const own = endpoint(server.url);
  return own !== undefined && own.host === target.host && own.port === target.port ? server.tls : undefined;
}

function endpoint(url: string): { host: string; port: number; tls: boolean } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  // redis: is not a "special" scheme to URL, so its host names keep their case: compare lowercased.
  return { host: parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase(), port: parsed.port === "" ? 6379 : Number(parsed.port), tls: parsed.protocol === "rediss:" };
}
