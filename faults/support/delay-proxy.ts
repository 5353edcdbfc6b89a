/**
 * A TCP proxy that delays every chunk in both directions: a Redis that answers slowly.
 * `setDelay` changes the delay on the fly (a latency spike).
 */
import { createServer, Socket, type AddressInfo } from "node:net";

export interface DelayProxy {
  readonly port: number;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  let delay = delayMs;
  const sockets = new Set<Socket>();
  const pipeDelayed = (from: Socket, to: Socket) => {
    // Chunks stay in order: each is sent after the one before it, at least `delay` after arrival.
    let chain = Promise.resolve();
    from.on("data", (chunk) => {
      const due = Date.now() + delay;
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        resolve();
      }, Math.max(0, due - Date.now()))));
    });
    from.on("close", () => void chain.then(() => to.destroy()));
    from.on("error", () => to.destroy());
  };
  const server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    upstream.connect(targetPort, "127.0.0.1");
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    setDelay: (ms) => (delay = ms),
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
