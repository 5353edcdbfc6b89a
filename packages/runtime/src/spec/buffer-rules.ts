/**
 * Rules across the fields of a redis buffer's `tls`: it needs a rediss:// URL (a redis:// one
 * would ignore it silently), and a client certificate comes with its key. Whether the files can
 * be read is checked when the spec is loaded (tls-files.ts), not here: parsing reads no files.
 */
import { isRecord, type IssueDraft } from "./issue-draft.js";

/**
 * Issues of `buffer.tls`, paths relative to `spec`. Reads its input as `unknown`: it runs on a
 * partly valid body too, so every problem is reported in one pass.
 *
 * @example
 * ```ts
 * bufferTlsIssues({ buffer: { type: "redis", url: "redis://h:6379", tls: { ca: "ca.pem" } } });
 * // [{ path: ["buffer", "tls"], message: "is set, but url is redis:// (plain) …", hint: "use rediss://…" }]
 * ```
 */
export function bufferTlsIssues(body: unknown): IssueDraft[] {
  if (!isRecord(body) || !isRecord(body["buffer"])) return [];
  const buffer = body["buffer"];
  const tls = buffer["tls"];
  if (buffer["type"] !== "redis" || !isRecord(tls)) return [];
  const issues: IssueDraft[] = [];
  const url = buffer["url"];
  if (typeof url === "string" && url.startsWith("redis://")) {
    // The URL itself is not quoted: it may hold a password.
    issues.push({
      path: ["buffer", "tls"],
      message: "is set, but url is redis:// (plain), which never uses TLS",
      hint: "use rediss://<host>:<port> (the server's tls-port) for TLS, or remove tls",
    });
  }
  const given = (field: string) => tls[field] !== undefined;
  if (given("cert") && !given("key")) {
    issues.push({ path: ["buffer", "tls", "key"], message: "is missing: tls.cert is set, and a client certificate needs its private key", hint: "add key: <PEM file of the private key>, or remove cert" });
  }
  if (given("key") && !given("cert")) {
    issues.push({ path: ["buffer", "tls", "cert"], message: "is missing: tls.key is set, and a private key needs its client certificate", hint: "add cert: <PEM file of the client certificate>, or remove key" });
  }
  return issues;
}
