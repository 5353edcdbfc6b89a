/**
 * The dashboard's HTTP surface without a browser: documented JSON endpoints, the SSE stream a
 * late page joins with the whole state, the token off loopback, and the Host check on loopback.
 */
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startDashboardServer, type DashboardServer, type SnapshotSource } from "../src/ui/dashboard-server.js";
import { DASHBOARD_FORMAT, type DashboardSnapshot } from "../src/ui/dashboard-types.js";
import { dashboardToken } from "../src/ui/run-ui-flags.js";

function snapshotAt(at: number): DashboardSnapshot {
  return {
    format: DASHBOARD_FORMAT,
    pipeline: "p",
    mode: "run",
    at,
    sampleIntervalMs: 500,
    graph: { vertices: [{ name: "in", kind: "source", partitions: 1, runs: "generator", onFull: null, bufferMaxLength: null, fallback: null }], edges: [] },
    vertices: [],
    actors: [],
    workers: [],
    deadLetters: { perVertex: {}, newest: [], error: null },
    eventTime: [],
    problems: [],
  };
}

function fakeSource(): SnapshotSource & { push(at: number): void } {
  let current = snapshotAt(1);
  const listeners = new Set<() => void>();
  return {
    snapshot: () => current,
    onUpdate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    push(at) {
      current = snapshotAt(at);
      for (const listener of listeners) listener();
    },
  };
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers["content-type"]) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Reads SSE frames until `count` snapshots arrived. */
function readFrames(port: number, path: string, count: number, onOpen: () => void): Promise<DashboardSnapshot[]> {
  return new Promise((resolve, reject) => {
    const frames: DashboardSnapshot[] = [];
    const req = request({ host: "127.0.0.1", port, path }, (response) => {
      let buffer = "";
      onOpen();
      response.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split("\n").find((line) => line.startsWith("data: "));
          if (data !== undefined) frames.push(JSON.parse(data.slice(6)) as DashboardSnapshot);
          if (frames.length === count) {
            req.destroy();
            resolve(frames);
          }
        }
      });
    });
    req.on("error", (error) => (frames.length < count ? reject(error) : undefined));
    req.end();
  });
}

describe("the dashboard server", () => {
  let server: DashboardServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves the page, its assets and the documented JSON on 127.0.0.1", async () => {
    server = await startDashboardServer({ port: 0, source: fakeSource() });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(server.port, "/");
    expect(page.status).toBe(200);
    expect(page.body).toContain('src="/assets/app.js"');
    expect((await get(server.port, "/assets/app.js")).type).toContain("text/javascript");
    const snapshot = JSON.parse((await get(server.port, "/api/snapshot")).body) as DashboardSnapshot;
    expect(snapshot.format).toBe("weir.dashboard/v1");
    expect(JSON.parse((await get(server.port, "/api/graph")).body)).toEqual(snapshot.graph);
    const machines = JSON.parse((await get(server.port, "/api/machines")).body) as { format: string; machines: Array<{ id: string }> };
    expect(machines.format).toBe("weir.machines/v1");
    expect(machines.machines.map((machine) => machine.id).sort()).toEqual(["batcher", "partitionReader", "sinkSession", "supervisor", "windowKeeper"]);
    expect((await get(server.port, "/api/nothing")).status).toBe(404);
    expect((await get(server.port, "/assets/../package.json")).status).toBe(404);
  });

  it("starts a late page's stream with the whole current state, then one frame per update", async () => {
    const source = fakeSource();
    server = await startDashboardServer({ port: 0, source });
    source.push(5); // before anyone watched
    const frames = await readFrames(server.port, "/api/events", 2, () => source.push(6));
    expect(frames.map((frame) => frame.at)).toEqual([5, 6]);
  });

  it("refuses another Host on loopback (DNS rebinding)", async () => {
    server = await startDashboardServer({ port: 0, source: fakeSource() });
    expect((await get(server.port, "/api/snapshot", { host: "attacker.example:80" })).status).toBe(403);
    expect((await get(server.port, "/api/snapshot", { host: `localhost:${server.port}` })).status).toBe(200);
  });

  it("off loopback, answers /api only with the token (header or query)", async () => {
    const token = dashboardToken("0.0.0.0", undefined)!;
    expect(token.length).toBeGreaterThanOrEqual(16);
    server = await startDashboardServer({ port: 0, host: "0.0.0.0", token, source: fakeSource() });
    expect((await get(server.port, "/")).status).toBe(200); // the page, which asks for the token
    const refused = await get(server.port, "/api/snapshot");
    expect(refused.status).toBe(401);
    expect(refused.body).toContain("needs its token");
    expect((await get(server.port, "/api/snapshot", { authorization: "Bearer wrong-token-wrong-token" })).status).toBe(401);
    expect((await get(server.port, "/api/snapshot", { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await get(server.port, `/api/snapshot?token=${token}`)).status).toBe(200);
  });

  it("will not listen off loopback without a token, nor take a short one", async () => {
    await expect(startDashboardServer({ port: 0, host: "0.0.0.0", source: fakeSource() })).rejects.toThrow(/needs a token/);
    expect(() => dashboardToken("0.0.0.0", "short")).toThrow(/at least 16 characters/);
    expect(dashboardToken("127.0.0.1", undefined)).toBeNull();
  });

  it("reports a port in use as an error naming the port", async () => {
    server = await startDashboardServer({ port: 0, source: fakeSource() });
    await expect(startDashboardServer({ port: server.port, source: fakeSource() })).rejects.toThrow(new RegExp(`cannot serve the dashboard on 127\\.0\\.0\\.1:${server.port}: it is in use`));
  });
});
