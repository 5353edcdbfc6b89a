/**
 * A wrong Redis URL fails `weir run` fast with one line naming the URL and what to check (it took
 * 36 s of reconnect warnings), and SIGINT while the run waits for a Redis that accepts
 * connections but never answers ends it promptly (it took 31 s). Retrying forever is for a
 * Redis that answered once and went away (redis-stream-buffer.redis.test.ts).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "@weir/runtime";
import { boundedSpecText } from "./support/bounded-spec.js";
import { ensureBuilt, freePort, startWeir } from "./support/weir-cli.js";

describe("weir run against a Redis that never answers", () => {
  let dir: string;
  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-unreachable-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const specFor = async (name: string, port: number) => {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, boundedSpecText({ name, buffer: `{ type: redis, url: "redis://127.0.0.1:${port}" }`, total: 10 }));
    return file;
  };

  it("a closed port: exits 1 with one line naming the URL and what to check", async () => {
    const port = await freePort(); // nothing listens there
    const run = startWeir(["run", await specFor("closed", port), "--json"]);
    const code = await run.exited;
    const lines = run.stderr().trim().split("\n");
    expect(code, run.stderr()).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^weir: Redis at redis://127\\.0\\.0\\.1:${port} never answered in \\d+(\\.\\d)? s \\(.*ECONNREFUSED.*\\): check the host and port in spec\\.buffer\\.url`));
    expect(run.stdout()).toBe("");
  }, 60_000);

  /** A TCP server that accepts connections and never says a word, like another service's port. */
  async function silentServer() {
    const sockets = new Set<Socket>();
    let connected: () => void = () => undefined;
    const firstConnection = new Promise<void>((resolve) => (connected = resolve));
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      connected();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const close = () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    };
    return { port: (server.address() as { port: number }).port, firstConnection, close };
  }

  it("pipeline.stop() while start() waits for Redis ends the start with the stop's reason", async () => {
    const { port, firstConnection, close } = await silentServer();
    try {
      const spec = parseSpec(
        {
          apiVersion: "weir.dev/v1",
          kind: "Pipeline",
          metadata: { name: "waiting" },
          spec: {
            buffer: { type: "redis", url: `redis://127.0.0.1:${port}` },
            vertices: [
              { name: "in", source: { generator: { total: 10, rpu: 10, duration: "1s" } } },
              { name: "out", sink: { blackhole: {} } },
            ],
            edges: [{ from: "in", to: "out" }],
          },
        },
        dir,
      );
      const pipeline = createPipeline(spec);
      const started = pipeline.start();
      await firstConnection;
      pipeline.stop("stopped while waiting for Redis");
      // It used to reject with "Connection is closed." after QUIT's own 2 s wait.
      await expect(started).resolves.toMatchObject({ status: "failed", reason: "stopped while waiting for Redis" });
    } finally {
      close();
    }
  }, 60_000);

  it("SIGINT while waiting for a port that accepts but never answers ends the run at once", async () => {
    const { port, firstConnection, close } = await silentServer();
    try {
      const run = startWeir(["run", await specFor("silent", port), "--json"]);
      await firstConnection; // the signal handlers are installed before the pipeline connects
      run.child.kill("SIGINT");
      const code = await run.exited;
      // Ended by the signal (the drain), not by the never-answered timeout.
      expect(run.stderr()).toContain("drained before the pipeline had started");
      expect(run.stderr()).not.toContain("never answered");
      expect(code).toBe(1);
    } finally {
      close();
    }
  }, 60_000);
});
