/**
 * The dashboard's HTTP server: the page, its assets, the JSON endpoints and one SSE stream.
 *
 *   GET /                 the page (ui-assets/index.html)
 *   GET /assets/<file>    its CSS and JS
 *   GET /api/snapshot     the whole current state (DashboardSnapshot)
 *   GET /api/graph        the pipeline graph only
 *   GET /api/machines     the machines' definitions, as `weir machines --json` prints them
 *   GET /api/events       text/event-stream: a `snapshot` frame now, then one per sample
 *
 * Documented in docs/dashboard.md. Bound to 127.0.0.1 unless told otherwise; elsewhere every
 * /api request needs the token (dashboard-auth.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { machinesFormat } from "../cli/commands/machines.js";
import { portError } from "../observability/observability-error.js";
import { weirMachines } from "../observability/trace-replay.js";
import { createDashboardAuth, isLoopback } from "./dashboard-auth.js";
import type { DashboardSnapshot } from "./dashboard-types.js";
import { createEventStream } from "./event-stream.js";
import { loadAssets } from "./static-assets.js";

/** Where the dashboard's state comes from: a running pipeline's sampler, or `weir ui`'s Redis reader. */
export interface SnapshotSource {
  snapshot(): DashboardSnapshot;
  /** Calls `listener` whenever a new snapshot is ready (read it with `snapshot()`); returns the unsubscribe. */
  onUpdate(listener: () => void): () => void;
}

export interface DashboardServerOptions {
  readonly port: number;
  /** Default 127.0.0.1. Any other address needs `token`. */
  readonly host?: string;
  readonly token?: string | null;
  readonly source: SnapshotSource;
}

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  /** Frames skipped for pages that could not keep up. */
  stats(): { readonly skipped: number; readonly clients: number };
  /** Idempotent. */
  close(): Promise<void>;
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? null;
  if (!isLoopback(host) && token === null) throw new Error(`the dashboard on ${host} needs a token`);
  const auth = createDashboardAuth(host, token);
  const assets = loadAssets();
  const stream = createEventStream();
  const machines = JSON.stringify({ format: machinesFormat, machines: Object.values(weirMachines).map((machine) => ({ id: machine.id, definition: machine.toJSON() })) });
  // Built only while a page watches: an unwatched dashboard costs its sampling alone.
  const unsubscribe = options.source.onUpdate(() => {
    if (stream.clients > 0) stream.broadcast(JSON.stringify(options.source.snapshot()));
  });

  const server = createServer((request, response) => {
    try {
      route(request, response);
    } catch (error) {
      send(response, 500, "text/plain; charset=utf-8", `dashboard error: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  });
  const route = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://dashboard");
    if (request.method !== "GET") return send(response, 405, "text/plain; charset=utf-8", "the dashboard is read-only: GET only\n");
    if (!auth.hostAllowed(request)) return send(response, 403, "text/plain; charset=utf-8", "open the dashboard as http://127.0.0.1:<port>/ (other host names are refused)\n");
    const path = url.pathname;
    if (path === "/" || path.startsWith("/assets/")) {
      const asset = assets.get(path === "/" ? "index.html" : path.slice("/assets/".length));
      if (asset === undefined) return send(response, 404, "text/plain; charset=utf-8", "no such asset\n");
      return send(response, 200, asset.type, asset.body);
    }
    if (!path.startsWith("/api/")) return send(response, 404, "text/plain; charset=utf-8", "not found; the page is at /, the data under /api/ (docs/dashboard.md)\n");
    if (!auth.allows(request, url)) return send(response, 401, "application/json", JSON.stringify({ error: "this dashboard needs its token: Authorization: Bearer <token> or ?token=<token>" }));
    if (path === "/api/snapshot") return send(response, 200, "application/json", JSON.stringify(options.source.snapshot()));
    if (path === "/api/graph") return send(response, 200, "application/json", JSON.stringify(options.source.snapshot().graph));
    if (path === "/api/machines") return send(response, 200, "application/json", machines);
    if (path === "/api/events") return stream.add(response, JSON.stringify(options.source.snapshot()));
    return send(response, 404, "application/json", JSON.stringify({ error: "unknown endpoint; see docs/dashboard.md" }));
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((cause: unknown) => {
    unsubscribe();
    throw portError("dashboard", options.port, cause);
  });
  server.on("error", () => undefined);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${shown}:${port}/`,
    stats: () => ({ skipped: stream.skipped, clients: stream.clients }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        stream.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  // no-store: the page must never show a stale state from the browser's cache.
  // The CSP makes the browser refuse any request to another host, whatever the page's code does.
  response
    .writeHead(status, {
      "content-type": type,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    })
    .end(body);
}
