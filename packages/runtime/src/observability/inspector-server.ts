/**
 * The local end of `weir run --inspect`: an HTTP page that embeds the Stately inspector and a
 * WebSocket relay from the run (the publisher, `/publish`) to every open page (viewers, `/`).
 * It speaks the protocol of `@statelyai/inspect/server` — the page, the events, the relay —
 * and differs where a pipeline run needs it to:
 *
 * - it listens on 127.0.0.1 only (the events carry what the actors hold);
 * - a port in use is an error the caller gets, not a crash;
 * - a viewer that connects late still gets every live actor's registration and latest
 *   snapshot, not only the last 200 events, so the inspector draws the whole system;
 * - a viewer that reads too slowly is skipped for ordinary events (counted), never buffered
 *   without bound;
 * - the caller can wait for the publisher and for a first viewer.
 *
 *   run ──createWebSocketInspector──▶ ws://127.0.0.1:<port>/publish ──▶ relay ──▶ viewers (ws://…/)
 *                                                                         └─▶ registrations + latest snapshots
 *                                                                             replayed to each new viewer
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { RawData, WebSocket } from "ws";

export interface InspectorServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The inspector UI the page embeds. Default `https://stately.ai/inspect`. */
  readonly inspectorUrl?: string;
  /** A viewer with more than this many bytes unsent gets only registrations and snapshots. Default 16 MiB. */
  readonly maxViewerBufferBytes?: number;
  /** Finished actors kept for late viewers. Default 2000. */
  readonly maxFinishedActors?: number;
}

export interface InspectorServerStats {
  readonly relayed: number;
  /** Events not sent to a viewer that could not keep up. */
  readonly skipped: number;
  readonly viewers: number;
}

export interface InspectorServer {
  /** The page to open: http://127.0.0.1:<port>/ */
  readonly url: string;
  /** Where a publisher connects: ws://127.0.0.1:<port>/publish */
  readonly publishUrl: string;
  readonly port: number;
  /** Resolves once a publisher is connected. */
  waitForPublisher(timeoutMs: number): Promise<void>;
  /** Resolves once a viewer is connected (at once if one is). */
  waitForViewer(signal?: AbortSignal): Promise<void>;
  stats(): InspectorServerStats;
  /** Closes every connection and the server. Idempotent. */
  close(): Promise<void>;
}

interface ActorEntry {
  readonly registration: string;
  snapshot?: string;
  finished: boolean;
}

export async function startInspectorServer(options: InspectorServerOptions): Promise<InspectorServer> {
  // Imported here, not at the top: only `--inspect` needs it (issue #11: start-up time, memory).
  const { WebSocket, WebSocketServer } = await import("ws");
  const inspectorUrl = options.inspectorUrl ?? "https://stately.ai/inspect";
  const maxViewerBuffer = options.maxViewerBufferBytes ?? 16 * 1024 * 1024;
  const maxFinished = options.maxFinishedActors ?? 2000;
  const actors = new Map<string, ActorEntry>();
  const finished: string[] = [];
  const viewers = new Set<WebSocket>();
  const publishers = new Set<WebSocket>();
  const publisherWaiters: Array<() => void> = [];
  const viewerWaiters: Array<() => void> = [];
  let relayed = 0;
  let skipped = 0;
  let port = options.port;

  const http: Server = createServer((request, response) => {
    if (request.method !== "GET") {
      response.writeHead(405).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    response.end(bridgePage(port, inspectorUrl));
  });
  const sockets = new WebSocketServer({ server: http });
  // The server's own errors (a port in use) reach the caller through `listen` below; the
  // WebSocket server re-emits them, and an unheard 'error' event would crash the process.
  sockets.on("error", () => undefined);

  // Read from the text without parsing it: the publisher serialises with sorted keys, and a
  // full parse of every event would cost the run more than the relay itself.
  const sessionOf = (text: string) => /"sessionId":"([^"]+)"/.exec(text)?.[1];
  const remember = (text: string, type: "actor" | "snapshot" | "other") => {
    if (type === "other") return;
    const sessionId = sessionOf(text);
    if (sessionId === undefined) return;
    if (type === "actor") {
      actors.set(sessionId, { registration: text, finished: false });
    } else {
      const entry = actors.get(sessionId);
      if (entry === undefined) return;
      entry.snapshot = text;
      // Keys are sorted: the snapshot's own status is the last "status" (after its context).
      const at = text.lastIndexOf('"status":"');
      const status = at < 0 ? undefined : text.slice(at + 10, text.indexOf('"', at + 10));
      if (!entry.finished && status !== undefined && status !== "active") {
        entry.finished = true;
        finished.push(sessionId);
        // Finished actors are kept for late viewers, but only so many: every read is an actor.
        while (finished.length > maxFinished) actors.delete(finished.shift()!);
      }
    }
  };

  const relay = (data: RawData) => {
    const text = data.toString();
    const type = text.includes('"type":"@xstate.actor"') ? "actor" : text.includes('"type":"@xstate.snapshot"') ? "snapshot" : "other";
    remember(text, type);
    const essential = type !== "other";
    for (const viewer of viewers) {
      if (viewer.readyState !== WebSocket.OPEN) continue;
      if (!essential && viewer.bufferedAmount > maxViewerBuffer) {
        skipped += 1;
        continue;
      }
      viewer.send(text);
      relayed += 1;
    }
  };

  sockets.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    if ((request.url ?? "/").startsWith("/publish")) {
      publishers.add(socket);
      socket.on("message", relay);
      socket.on("close", () => publishers.delete(socket));
      publisherWaiters.splice(0).forEach((wake) => wake());
      return;
    }
    viewers.add(socket);
    socket.on("close", () => viewers.delete(socket));
    // A late viewer first gets the system as it is now: who exists, and each one's state.
    for (const entry of actors.values()) socket.send(entry.registration);
    for (const entry of actors.values()) if (entry.snapshot !== undefined) socket.send(entry.snapshot);
    viewerWaiters.splice(0).forEach((wake) => wake());
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    http.once("error", onError);
    http.listen(options.port, "127.0.0.1", () => {
      http.off("error", onError);
      resolve();
    });
  });
  const address = http.address();
  port = typeof address === "object" && address !== null ? address.port : options.port;
  http.on("error", () => undefined);

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    publishUrl: `ws://127.0.0.1:${port}/publish`,
    port,
    waitForPublisher(timeoutMs) {
      if (publishers.size > 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the run did not connect to the inspector within ${timeoutMs}ms`)), timeoutMs);
        publisherWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    waitForViewer(signal) {
      if (viewers.size > 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        viewerWaiters.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    },
    stats: () => ({ relayed, skipped, viewers: viewers.size }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of [...viewers, ...publishers]) socket.terminate();
        sockets.close(() => http.close(() => resolve()));
        http.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The page: the Stately inspector in a frame, fed from this server's WebSocket. */
function bridgePage(port: number, inspectorUrl: string): string {
  const src = JSON.stringify(inspectorUrl);
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Weir — Stately inspector</title>
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
  <iframe id="inspector"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    iframe.src = ${src};
    const buffer = [];
    let connected = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        buffer.forEach((event) => iframe.contentWindow.postMessage(event, '*'));
        buffer.length = 0;
      }
    });
    const ws = new WebSocket('ws://127.0.0.1:${port}/');
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (connected) iframe.contentWindow.postMessage(data, '*');
      else buffer.push(data);
    };
  </script>
</body>
</html>`;
}
