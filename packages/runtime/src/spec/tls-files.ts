/**
 * The files a redis buffer's `tls` names — CA bundle, client certificate and key — read and
 * checked, so a missing, unreadable or wrong file is a {@link SpecError} naming the field and the
 * path (`spec.buffer.tls.ca: cannot read /etc/weir/ca.pem: no such file`) when the spec is loaded
 * (`weir validate` too) and when the pipeline starts — never an ENOENT stack or an OpenSSL
 * message out of a reconnect loop.
 *
 * Certificate files are data, not code: unlike modules they may live outside the spec's
 * directory (`/etc/ssl/…`), so `--allow-modules-outside` does not apply to them.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { SpecError, type SpecIssue } from "../errors.js";
import type { RedisTlsSpec } from "./pipeline-spec.js";
import { readFailure } from "./read-failure.js";
import type { Locate } from "./zod-issues.js";

type TlsFile = "ca" | "cert" | "key";

// node:tls and node:crypto cost ~20 ms of CPU to load (issue 11): required only by a spec that has
// TLS files, not by every `weir validate`.
const require = createRequire(import.meta.url);

/** Where a spec problem is shown: the spec file and how to find a path's line in it. */
export interface TlsFilesContext {
  readonly file?: string | undefined;
  readonly locate?: Locate | undefined;
}

/**
 * The `tls.connect` options `buffer.tls` stands for: the files' contents in `ca`, `cert` and
 * `key`, and `servername`. Paths must be absolute already (resolveSpecPaths made them so).
 *
 * @throws {SpecError} naming `spec.buffer.tls.<field>` and the path, for every file that is
 *   missing, unreadable or not what the field takes (not PEM, a key that does not match `cert`).
 *
 * @example
 * ```ts
 * const { spec } = await loadSpec("pipeline.yaml");
 * if (spec.spec.buffer.type === "redis" && spec.spec.buffer.tls !== undefined) {
 *   const tls = readRedisTlsFiles(spec.spec.buffer.tls); // { ca: <Buffer …>, servername?: … }
 * }
 * ```
 */
export function readRedisTlsFiles(spec: RedisTlsSpec, context: TlsFilesContext = {}): TlsOptions {
  const { createPrivateKey, X509Certificate } = require("node:crypto") as typeof import("node:crypto");
  const { createSecureContext } = require("node:tls") as typeof import("node:tls");
  const issues: SpecIssue[] = [];
  const report = (field: TlsFile, message: string, hint: string) => {
    const at = ["spec", "buffer", "tls", field];
    issues.push({ path: at.join("."), message, hint, ...(context.locate?.(at) ?? {}) });
  };
  const read = (field: TlsFile): Buffer | undefined => {
    const file = spec[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (cause) {
      report(field, `cannot read ${file}: ${readFailure(cause)}`, "check the path; a relative path is relative to the spec file's directory");
      return undefined;
    }
  };
  const ca = read("ca");
  const cert = read("cert");
  const key = read("key");
  if (ca !== undefined && !parses(() => new X509Certificate(ca))) {
    report("ca", `${spec.ca} holds no PEM certificate`, "give the CA certificate (or bundle) in PEM: -----BEGIN CERTIFICATE-----");
  }
  const certOk = cert !== undefined && parses(() => new X509Certificate(cert));
  if (cert !== undefined && !certOk) {
    report("cert", `${spec.cert} holds no PEM certificate`, "give the client certificate in PEM: -----BEGIN CERTIFICATE-----");
  }
  const keyOk = key !== undefined && parses(() => createPrivateKey(key));
  if (key !== undefined && !keyOk) {
    report("key", `${spec.key} holds no unencrypted PEM private key`, "give the client certificate's key in PEM (-----BEGIN PRIVATE KEY-----), without a passphrase");
  }
  if (certOk && keyOk) {
    try {
      createSecureContext({ cert, key });
    } catch (error) {
      report("key", `${spec.key} does not belong to the certificate in ${spec.cert} (${error instanceof Error ? error.message : String(error)})`, "give the key the client certificate was issued for");
    }
  }
  if (issues.length > 0) throw new SpecError(issues, context.file === undefined ? {} : { file: context.file });
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(spec.servername === undefined ? {} : { servername: spec.servername }),
  };
}

function parses(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}
