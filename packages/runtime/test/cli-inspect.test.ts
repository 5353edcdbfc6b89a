import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { normalizeInspectFlag, DEFAULT_INSPECT_PORT } from "../src/cli/commands/run.js";
import { ensureBuilt, freePort, sleep, startWeir } from "./support/weir-cli.js";

// A slow source (about 1.5 s) into a sink vertex of 3 partitions.
const spec = `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: inspected }
spec:
  buffer: { type: memory }
  limits: { readBatchSize: 20, readTimeout: 50ms }
  vertices:
    - name: in
      source: { generator: { total: 300, rpu: 200, duration: 1s, msgSize: 16, keyCount: 6 } }
    - name: out
      partitions: 3
      sink: { blackhole: {} }
  edges:
    - { from: in, to: out }
`;

interface StatelyMessage {
  readonly type: string;
  readonly name?: string;
  readonly sessionId: string;
  readonly snapshot?: { readonly value?: unknown; readonly status?: string };
}

/**
 * Connects as a viewer. Messages are collected from the first one: the server replays the
 * system's current state right on connection, possibly in the same packet as the handshake.
 */
async function connect(port: number, messages: StatelyMessage[], deadlineMs = 15_000): Promise<WebSocket> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
        socket.on("message", (data) => messages.push(JSON.parse(data.toString()) as StatelyMessage));
        socket.once("open", () => resolve(socket));
        socket.once("error", reject);
      });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "weir-inspect-"));
  await writeFile(path.join(dir, "inspected.yaml"), spec);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("weir run --inspect", () => {
  it("streams every partition's reader, batcher and sink session to the inspector server", async () => {
    const port = await freePort();
    const run = startWeir(["run", path.join(dir, "inspected.yaml"), "--json", `--inspect=${port}`]);
    const messages: StatelyMessage[] = [];
    // The server listens once the run says where: connect then, however long start-up took.
    await run.waitFor(/inspector at http:/, "stderr", 120_000);
    const socket = await connect(port, messages);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    expect(await run.exited).toBe(0);
    await closed;

    expect(run.stderr()).toContain(`inspector at http://127.0.0.1:${port}/`);
    expect(JSON.parse(run.stdout().trim())).toMatchObject({ status: "completed" });
    const sessions = new Map<string, string>();
    for (const message of messages) if (message.type === "@xstate.actor" && message.name !== undefined) sessions.set(message.name, message.sessionId);
    const snapshotsOf = (sessionId: string | undefined) => messages.filter((m) => m.type === "@xstate.snapshot" && m.sessionId === sessionId);
    for (let p = 0; p < 3; p += 1) {
      for (const role of ["reader", "batcher", "sink"]) {
        const name = `out/${role}/${p}`;
        expect(sessions.has(name), `actor event for ${name}`).toBe(true);
        expect(snapshotsOf(sessions.get(name)).length, `snapshot events for ${name}`).toBeGreaterThan(0);
      }
    }
    // The supervisor too, and events between the actors.
    expect(snapshotsOf(sessions.get("out")).length).toBeGreaterThan(0);
    expect(messages.some((m) => m.type === "@xstate.event")).toBe(true);
    // Batches reach the inspector summarised, never as message bodies.
    expect(JSON.stringify(messages)).not.toMatch(/"value":\{"0":/);
  });

  it("with --inspect-wait, starts the pipeline only once a viewer is connected", async () => {
    const port = await freePort();
    const run = startWeir(["run", path.join(dir, "inspected.yaml"), "--json", `--inspect=${port}`, "--inspect-wait"]);
    await run.waitFor(/waiting for a browser/, "stderr", 120_000);
    // No fixed wait to "see nothing happen": the viewer below, connected now, must see the roots start.
    expect(run.stdout()).toBe("");
    const messages: StatelyMessage[] = [];
    await connect(port, messages);
    expect(await run.exited).toBe(0);
    // Connected before anything ran, the viewer saw the roots start.
    expect(messages.find((m) => m.type === "@xstate.actor")?.name).toMatch(/^(in|out)$/);
  });

  it("reads a bare --inspect as the default port, never taking the spec as the port", () => {
    expect(normalizeInspectFlag(["--inspect", "spec.yaml"])).toEqual([`--inspect=${DEFAULT_INSPECT_PORT}`, "spec.yaml"]);
    expect(normalizeInspectFlag(["spec.yaml", "--inspect=0"])).toEqual(["spec.yaml", "--inspect=0"]);
    expect(normalizeInspectFlag(["spec.yaml", "--", "--inspect"])).toEqual(["spec.yaml", "--", "--inspect"]);
  });
});
