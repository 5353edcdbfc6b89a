/**
 * The dashboard's one live stream: Server-Sent Events, each frame a whole snapshot
 * (`event: snapshot`). A page that opens late gets the current snapshot at once. A page that reads
 * too slowly is skipped until its socket drains — counted, never buffered without bound.
 */
import type { ServerResponse } from "node:http";

export interface EventStream {
  add(response: ServerResponse, first: string): void;
  broadcast(json: string): void;
  readonly clients: number;
  /** Frames not sent to a page that could not keep up. */
  readonly skipped: number;
  close(): void;
}

export function createEventStream(): EventStream {
  const clients = new Set<{ response: ServerResponse; blocked: boolean }>();
  let skipped = 0;
  const send = (client: { response: ServerResponse; blocked: boolean }, json: string) => {
    if (client.blocked) {
      skipped += 1;
      return;
    }
    if (!client.response.write(`event: snapshot\ndata: ${json}\n\n`)) {
      client.blocked = true;
      client.response.once("drain", () => (client.blocked = false));
    }
  };
  return {
    add(response, first) {
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      const client = { response, blocked: false };
      clients.add(client);
      response.on("close", () => clients.delete(client));
      send(client, first);
    },
    broadcast(json) {
      for (const client of clients) send(client, json);
    },
    get clients() {
      return clients.size;
    },
    get skipped() {
      return skipped;
    },
    close() {
      for (const client of clients) client.response.end();
      clients.clear();
    },
  };
}
