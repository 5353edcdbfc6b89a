/**
 * Private `redis-server` processes for tests: never the Redis a developer or CI already runs.
 * Each server gets a free port and a temporary directory, persistence off unless asked, and is
 * stopped (and its directory removed) by `stop()`.
 *
 * ```ts
 * const server = await startRedisServer({ requirepass: "secret" });
 * await redisCommand(server.url, "PING");
 * await server.stop();
 * ```
 *
 * With `tls` the server speaks TLS only (`--port 0 --tls-port <port>`), and its `url` is rediss://.
 *
 * Test files reach the run's shared server through {@link redisTestUrl} (set up by
 * redis-global-setup.ts), and isolate themselves with unique key prefixes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { randomUUID } from "node:crypto";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Redis } from "ioredis";
import { inject } from "vitest";

/** How to install the server, quoted in every "missing" message. */
export const INSTALL_HINT = "install it: apt-get install -y redis-server (or brew install redis), or set WEIR_TEST_REDIS_URL to a Redis that tests may write to";

export interface RedisServerOptions {
  /** Turn the append-only file on (default off: `--appendonly no`). */
  readonly appendonly?: boolean;
  /** Require this password for the default user. */
  readonly requirepass?: string;
  /** Start a cluster-enabled node (a cluster still has to be formed with `redis-cli --cluster create`). */
  readonly clusterEnabled?: boolean;
  /** Any further `--name value` arguments. */
  readonly args?: readonly string[];
  /** Use this port instead of a free one. */
  readonly port?: number;
  /** Serve TLS only: the port becomes `--tls-port` (`--port 0`) and `url` is rediss://. */
  readonly tls?: RedisServerTls;
}

/** PEM files of a TLS server (`--tls-cert-file`, `--tls-key-file`, `--tls-ca-cert-file`). */
export interface RedisServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that signed `certFile`; with `authClients`, also the one client certificates must chain to. */
  readonly caFile: string;
  /** Require client certificates (`--tls-auth-clients yes`); default no. */
  readonly authClients?: boolean;
  /** The readiness check's client certificate and key, needed with `authClients`. */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as a crash would; the directory stays until `stop()`. */
  kill(): Promise<void>;
}

/**
 * The redis-server binary: `WEIR_REDIS_SERVER` when set (a path; a missing path means "none",
 * which is how tests simulate a machine without Redis), otherwise the first `redis-server` on
 * PATH, then the usual install locations.
 */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env["WEIR_REDIS_SERVER"];
  if (override !== undefined && override !== "") return isExecutable(override) ? override : undefined;
  const dirs = (env["PATH"] ?? "").split(delimiter).filter((dir) => dir.length > 0);
  for (const dir of [...dirs, "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]) {
    const candidate = join(dir, "redis-server");
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private redis-server and resolves once it answers PING.
 *
 * @throws when no redis-server binary can be found ({@link INSTALL_HINT}) or it does not start.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === undefined) throw new Error(`redis-server not found; ${INSTALL_HINT}`);
  let lastError: unknown;
  // A free port can be taken between picking and binding it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await launch(binary, port, options);
    } catch (error) {
      lastError = error;
      if (options.port !== undefined) break;
    }
  }
  throw lastError;
}

async function launch(binary: string, port: number, options: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "weir-redis-"));
  const tls = options.tls;
  const args = [
    ...(tls === undefined ? ["--port", String(port)] : ["--port", "0", "--tls-port", String(port)]),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--save", "",
    "--appendonly", options.appendonly === true ? "yes" : "no",
    "--daemonize", "no",
    "--logfile", "",
    "--loglevel", "warning",
  ];
  if (options.requirepass !== undefined) args.push("--requirepass", options.requirepass);
  if (tls !== undefined) {
    args.push("--tls-cert-file", tls.certFile, "--tls-key-file", tls.keyFile, "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", tls.authClients === true ? "yes" : "no");
  }
  if (options.clusterEnabled === true) {
    args.push("--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"), "--cluster-node-timeout", "2000");
  }
  args.push(...(options.args ?? []));
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const auth = options.requirepass === undefined ? "" : `:${encodeURIComponent(options.requirepass)}@`;
  const url = `${tls === undefined ? "redis" : "rediss"}://${auth}127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, exited, () => output, tls === undefined ? undefined : clientTls(tls));
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const server: RedisServer = {
    port,
    url,
    dir,
    pid: child.pid as number,
    stop: () => (stopped ??= stopChild(child, exited).finally(() => rmSync(dir, { recursive: true, force: true }))),
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
  return server;
}

/** What a client needs to pass a TLS server's checks: its CA, and a client certificate when asked. */
function clientTls(tls: RedisServerTls): TlsOptions {
  return {
    ca: readFileSync(tls.caFile),
    ...(tls.clientCertFile === undefined ? {} : { cert: readFileSync(tls.clientCertFile) }),
    ...(tls.clientKeyFile === undefined ? {} : { key: readFileSync(tls.clientKeyFile) }),
  };
}

async function waitUntilReady(url: string, exited: Promise<number | null>, output: () => string, tls?: TlsOptions): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`redis-server exited at start: ${output().trim()}`);
    // ioredis turns TLS on for rediss:// by itself; `tls` adds the test CA (and client certificate).
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(tls === undefined ? {} : { tls }) });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server did not answer PING within 10 s: ${output().trim()}`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A local Redis Cluster of private servers (masters only). */
export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** `redis://127.0.0.1:<port of the first node>`: any node lets a cluster client find the rest. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled servers and joins them into one cluster, slots split evenly
 * (CLUSTER ADDSLOTSRANGE + CLUSTER MEET, so `redis-cli --cluster create` is not needed), and
 * resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startRedisServer({ clusterEnabled: true }));
    const slots = 16384;
    for (let i = 0; i < masters; i++) {
      const first = Math.floor((slots * i) / masters);
      const last = Math.floor((slots * (i + 1)) / masters) - 1;
      await redisCommand((nodes[i] as RedisServer).url, "CLUSTER", "ADDSLOTSRANGE", first, last);
    }
    for (const node of nodes.slice(1)) await redisCommand((nodes[0] as RedisServer).url, "CLUSTER", "MEET", "127.0.0.1", node.port);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      for (;;) {
        const info = String(await redisCommand(node.url, "CLUSTER", "INFO"));
        if (info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${masters}`)) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster did not form within 20 s: ${info}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, url: (nodes[0] as RedisServer).url, stop };
}

/**
 * Runs one command on a short-lived connection (what `redis-cli` would do, without needing the
 * binary): `await redisCommand(url, "CLIENT", "KILL", "ID", "12")`.
 */
export async function redisCommand(url: string, command: string, ...args: Array<string | number | Buffer>): Promise<unknown> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

/** The clients CLIENT LIST shows, as `{ id, name, … }` records. */
export async function clientList(url: string): Promise<Array<Record<string, string>>> {
  const text = String(await redisCommand(url, "CLIENT", "LIST"));
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => Object.fromEntries(line.trim().split(" ").map((pair) => {
      const eq = pair.indexOf("=");
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    })));
}

/**
 * CLIENT KILL every connection whose name starts with `namePrefix` (CLIENT KILL has no name
 * filter, and killing by type would hit other test files sharing the server). Returns how many.
 */
export async function killClientsByName(url: string, namePrefix: string): Promise<number> {
  const victims = (await clientList(url)).filter((client) => (client["name"] ?? "").startsWith(namePrefix));
  let killed = 0;
  for (const victim of victims) {
    killed += Number(await redisCommand(url, "CLIENT", "KILL", "ID", victim["id"] as string));
  }
  return killed;
}

/** Every key matching `pattern` (SCAN, never KEYS). */
export async function scanKeys(url: string, pattern: string): Promise<string[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on("error", () => undefined);
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    return keys;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key matching `pattern`; tests call it with their own unique prefix. */
export async function deleteKeys(url: string, pattern: string): Promise<void> {
  const keys = await scanKeys(url, pattern);
  for (let i = 0; i < keys.length; i += 500) await redisCommand(url, "UNLINK", ...keys.slice(i, i + 500));
}

/** A key prefix no other test uses: `t-<8 hex>`. */
export function uniquePrefix(label = "t"): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * The run's Redis URL, provided by redis-global-setup.ts, or `undefined` when there is none —
 * then the calling file's Redis tests skip, and this says so loudly (once per file).
 *
 * @example
 * ```ts
 * const url = redisTestUrl();
 * describe.skipIf(url === undefined)("my Redis tests", () => { … });
 * ```
 */
export function redisTestUrl(): string | undefined {
  const url = inject("weirRedisUrl");
  if (url === null || url === undefined) {
    const reason = inject("weirRedisSkipReason") ?? "no Redis";
    console.warn(`\n⚠️  SKIPPING Redis-backed tests: ${reason}.\n⚠️  ${INSTALL_HINT}\n`);
    return undefined;
  }
  return url;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis that Redis-backed tests use, or null when none could be started (tests skip). */
    weirRedisUrl: string | null;
    /** Why there is no Redis, when there is none. */
    weirRedisSkipReason: string | null;
  }
}
