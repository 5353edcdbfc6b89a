/**
 * TLS failures that are configuration, not weather: the server's certificate is not trusted or
 * not for this host, the server refused our client certificate, or one side does not speak TLS.
 * A reconnect gets the same answer every time, so {@link RedisConnection} fails fast on them with
 * `BUFFER_TLS` — the way a wrong password (NOAUTH, WRONGPASS) fails fast — instead of retrying a
 * broken handshake forever.
 *
 * Node reports certificate checks with OpenSSL's verify codes (`X509_V_ERR_*` without the prefix,
 * node/src/crypto/crypto_common.cc) and TLS alerts from the peer as `ERR_SSL_*`; both are matched
 * by `code`, never by message text.
 */
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from "node:tls";
import { BufferError } from "../buffer-error.js";

/** Where the spec takes TLS settings; quoted in hints. */
const SPEC_FIELD = "spec.buffer.tls";

/** The server's certificate chain does not lead to a CA this process trusts. */
const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "CERT_CHAIN_TOO_LONG",
]);

/** The certificate is trusted but not valid now (or any more). */
const OUT_OF_DATE = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REVOKED"]);

/** The certificate is not for the host name (or IP address) connected to. */
const WRONG_HOST = new Set(["ERR_TLS_CERT_ALTNAME_INVALID", "HOSTNAME_MISMATCH"]);

/** Alerts from a server that wants a client certificate it trusts (`tls-auth-clients yes`). */
const CLIENT_REFUSED = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
]);

/** The server and this process share no protocol version or cipher (or the server will not say why). */
const HANDSHAKE_REFUSED = new Set([
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_NO_PROTOCOLS_AVAILABLE",
]);

/** What a TLS client reads from a server that answers in plain text. */
const NOT_TLS = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

/** `host:port` as a user would write it in a URL (`[::1]:6380`). */
export function endpointOf(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The `BUFFER_TLS` error a connection error stands for, or `undefined` when it is not a TLS
 * configuration problem (a refused or reset connection, a timeout: those are retried).
 * `endpoint` is `host:port` — never the URL, which may hold a password.
 *
 * @example
 * ```ts
 * tlsFailure(Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" }), "10.0.0.5:6380");
 * // BufferError BUFFER_TLS: "Redis at 10.0.0.5:6380: TLS: the server's certificate is not trusted (self-signed …); set spec.buffer.tls.ca …"
 * ```
 */
export function tlsFailure(error: unknown, endpoint: string): BufferError | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code !== "string") return undefined;
  const why = (problem: string, fix: string) =>
    new BufferError("BUFFER_TLS", `Redis at ${endpoint}: TLS: ${problem} (${reasonOf(error)}); ${fix}`, { retriable: false, cause: error });
  if (UNTRUSTED.has(code)) {
    return why(
      "the server's certificate is not trusted",
      `set ${SPEC_FIELD}.ca to the PEM file of the CA that signed it (or add that CA with NODE_EXTRA_CA_CERTS)`,
    );
  }
  if (OUT_OF_DATE.has(code)) return why("the server's certificate is not valid now", "renew the server's certificate (and check this machine's clock)");
  if (WRONG_HOST.has(code)) {
    return why(
      "the server's certificate is not for this host",
      `connect with a name or IP address the certificate lists, or set ${SPEC_FIELD}.servername to one of its names`,
    );
  }
  if (CLIENT_REFUSED.has(code)) {
    return why(
      "the server refused the client certificate",
      `it requires one signed by a CA it trusts (tls-auth-clients yes): set ${SPEC_FIELD}.cert and ${SPEC_FIELD}.key`,
    );
  }
  if (HANDSHAKE_REFUSED.has(code)) {
    return why(
      "the server refused the handshake",
      `check that both sides allow a common TLS version and cipher (tls-protocols, tls-ciphers), and whether it wants a client certificate (${SPEC_FIELD}.cert and .key)`,
    );
  }
  if (NOT_TLS.has(code)) return why("the server does not speak TLS on this port", "use redis:// for this port, or rediss:// with the server's tls-port");
  return undefined;
}

/**
 * OpenSSL's words for an alert ("tlsv13 alert certificate required": Node puts them in `reason`)
 * rather than its message, which spans lines and quotes source files; else the message's first line.
 */
function reasonOf(error: Error): string {
  const reason = (error as Error & { reason?: unknown }).reason;
  if (typeof reason === "string" && reason.length > 0) return reason;
  return error.message.split("\n", 1)[0] ?? error.message;
}

/** The error for a redis:// URL whose server turned out to speak TLS (see {@link speaksTls}). */
export function plainToTlsFailure(endpoint: string): BufferError {
  return new BufferError(
    "BUFFER_TLS",
    `Redis at ${endpoint} speaks TLS, but the URL is redis:// (plain), so the server drops every connection; use rediss://${endpoint} (and ${SPEC_FIELD}.ca for a private CA)`,
    { retriable: false },
  );
}

/**
 * Whether `host:port` completes a TLS handshake. A plain client's connection that a server
 * accepts and then drops before answering anything is what a TLS port does to plain text — but
 * also what a proxy without a backend does, which a retry may fix; this tells them apart.
 *
 * The probe checks no certificate: it sends nothing after the handshake and closes at once, so
 * there is nothing to protect; it only learns which protocol the port speaks.
 */
export function speaksTls(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) });
  return probe(socket, timeoutMs, (decide) => socket.once("secureConnect", () => decide(true)));
}

/**
 * The BUFFER_TLS error of a server that wants a client certificate this client does not send, or
 * undefined. With TLS 1.3 the server checks the client's certificate after the client's handshake
 * is done, and its alert races the close: the client may read the alert (`…CERTIFICATE_REQUIRED`)
 * or only a reset (`ECONNRESET`), which alone is retried as weather. So this handshakes with the
 * connection's own TLS options, sends a PING and listens: up to `attempts` times, until an alert
 * names the reason. A reply of any kind means the server took this client as it is.
 */
export async function clientCertificateRefusal(host: string, port: number, tls: TlsOptions, attempts = 3, timeoutMs = 2_000): Promise<BufferError | undefined> {
  const endpoint = endpointOf(host, port);
  for (let attempt = 0; attempt < attempts; attempt++) {
    let alert: unknown;
    const socket = tlsConnect({ ...tls, host, port });
    const answered = await probe(socket, timeoutMs, (decide) => {
      socket.once("secureConnect", () => socket.write("PING\r\n"));
      socket.once("data", () => decide(true));
      socket.prependOnceListener("error", (error) => (alert = error));
    });
    if (answered) return undefined;
    const failure = tlsFailure(alert, endpoint);
    if (failure !== undefined) return failure;
  }
  return undefined;
}

/** The error for a rediss:// URL whose server answers in plain text (see {@link speaksPlainRedis}). */
export function tlsToPlainFailure(endpoint: string): BufferError {
  return new BufferError(
    "BUFFER_TLS",
    `Redis at ${endpoint} speaks plain Redis, not TLS, but the URL is rediss://, so no handshake ever completes; use redis://${endpoint}, or the server's tls-port`,
    { retriable: false },
  );
}

/**
 * Whether `host:port` answers a plain-text PING as Redis does (`+PONG`, or an error such as
 * `-NOAUTH` — any RESP reply). Sends nothing but PING, so a password is never at stake.
 */
export function speaksPlainRedis(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  const socket = tcpConnect({ host, port });
  return probe(socket, timeoutMs, (decide) => {
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk: Buffer) => decide(/^[+-]/.test(chunk.toString("latin1", 0, 1))));
  });
}

/**
 * What `listen` decides about a probing socket, or false on an error or after `timeoutMs`; the
 * socket is closed either way and never keeps the process alive.
 */
function probe(socket: Socket, timeoutMs: number, listen: (decide: (result: boolean) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const decide = (result: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => decide(false), timeoutMs);
    timer.unref();
    socket.unref();
    socket.once("error", () => decide(false));
    listen(decide);
  });
}
