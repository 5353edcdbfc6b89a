/**
 * Who may read the dashboard. On 127.0.0.1 (the default) anyone on the machine, as with the
 * inspector and the metrics; bound elsewhere (`--ui-host`), only a request carrying the token
 * (`Authorization: Bearer <token>`, or `?token=` for the event stream, which a browser's
 * EventSource cannot give headers). The page asks for the token and keeps it for the tab.
 *
 * The Host header is checked on loopback too: a web page elsewhere could otherwise read the
 * dashboard through a DNS name that resolves to 127.0.0.1 (DNS rebinding).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export interface DashboardAuth {
  /** null: no token needed (loopback). */
  readonly token: string | null;
  allows(request: IncomingMessage, url: URL): boolean;
  hostAllowed(request: IncomingMessage): boolean;
}

export function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost";
}

/** A fresh token: 24 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString("base64url");
}

export function createDashboardAuth(host: string, token: string | null): DashboardAuth {
  const expected = token === null ? null : Buffer.from(token);
  return {
    token,
    allows(request, url) {
      if (expected === null) return true;
      const header = request.headers.authorization;
      const given = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("token");
      if (given === null || given === undefined) return false;
      const buffer = Buffer.from(given);
      return buffer.length === expected.length && timingSafeEqual(buffer, expected);
    },
    hostAllowed(request) {
      if (!isLoopback(host)) return true; // reached by name or address from elsewhere: the token guards it
      const name = (request.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
      return isLoopback(name);
    },
  };
}
