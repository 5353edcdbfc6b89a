/**
 * Connections to Redis for the buffers and the redisStream connectors: one command client
 * (writes, acks, non-blocking reads, scripts; commands pipelined) and a pool of blocking clients,
 * one per read that waits with XREADGROUP BLOCK, so a waiting read never delays a write or an ack.
 *
 * ```
 *   write / ack / usage / claim ──▶ client  (auto-pipelined, maxRetriesPerRequest: 20)
 *   read that must wait          ──▶ acquireBlocking() ─▶ [blocking client] ─▶ releaseBlocking()
 *                                                (maxRetriesPerRequest: null)
 * ```
 *
 * A lost connection is retried forever with capped exponential backoff and jitter
 * ({@link reconnectDelay}); every loss and recovery is logged. ioredis resends the commands that
 * were in flight when a connection dropped, so a command may run twice: callers compare
 * {@link RedisConnection.generation} (or a blocking client's `generation`) before and after a call
 * to learn that this may have happened (see consumer-group-stream.ts for why it matters).
 *
 * A TLS handshake that fails on configuration (an untrusted or mismatched certificate, a refused
 * client certificate, redis:// to a TLS port: tls-failure.ts) is not retried: the connection
 * stops reconnecting and every command, now and later, fails at once with that `BUFFER_TLS`
 * error ({@link RedisConnection.failure}), which is not retriable — as NOAUTH fails a run at once.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import { silentLogger } from "../../observability/logger.js";
import { BufferError } from "../buffer-error.js";
import { defineScripts } from "./scripts.js";
import { DEFAULT_FIRST_ANSWER_TIMEOUT_MS, maskUrl, neverAnswered } from "./unreachable.js";
import { clientCertificateRefusal, endpointOf, plainToTlsFailure, speaksPlainRedis, speaksTls, tlsFailure, tlsToPlainFailure } from "./tls-failure.js";

/** How long a TLS client may go without being ready before the port is asked whether it speaks plain Redis. */
const TLS_SILENCE_PROBE_MS = 2_000;

/** At most one "over maxmemory" log line per this many ms (the count of refusals in between is in it). */
const OOM_LOG_INTERVAL_MS = 10_000;

/** A standalone or cluster client; both offer the same commands. */
export type RedisClient = Redis | Cluster;

/** How reconnect delays grow: `initialMs × factor^(attempt-1)`, capped at `maxMs`, ± `jitter` × delay. */
export interface ReconnectBackoff {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** Fraction of the delay added at random (0 … jitter), so many clients do not reconnect in step. */
  readonly jitter: number;
}

export const DEFAULT_RECONNECT_BACKOFF: ReconnectBackoff = { initialMs: 50, factor: 2, maxMs: 2_000, jitter: 0.2 };

/** Options of a {@link RedisConnection}. */
export interface RedisConnectionOptions {
  /**
   * `redis://[[username]:password@]host[:port][/db]`, or `rediss://…` for TLS. User name and
   * password are percent-decoded. `db` is ignored by Redis Cluster, which has only db 0.
   */
  readonly url: string;
  /** Connect to a Redis Cluster through the node in `url` (default false). */
  readonly cluster?: boolean;
  /**
   * Extra TLS options for `rediss://` (a private CA, `servername`, client certificates…), as
   * `tls.connect` takes them: `ca`, `cert` and `key` are PEM contents, not file names.
   * Ignored for `redis://`.
   */
  readonly tls?: TlsOptions;
  /** Client name prefix shown by CLIENT LIST: `<name>:cmd`, `<name>:block-<n>`. Default `weir`. */
  readonly name?: string;
  readonly backoff?: Partial<ReconnectBackoff>;
  /**
   * Reconnect attempts a command waits through before it fails with `BUFFER_UNAVAILABLE`
   * (default 20, about half a minute with the default backoff); `null` waits forever. Blocking
   * reads always wait forever: they have their own deadline.
   */
  readonly maxRetriesPerRequest?: number | null;
  /** Batches commands issued in the same tick into one socket write (default true). */
  readonly autoPipelining?: boolean;
  /**
   * Idle blocking clients kept for reuse (default 64); more are closed when released. Keep it at
   * least the number of partitions read at once through this connection, or clients are closed
   * and reopened with every block slice.
   */
  readonly maxIdleBlocking?: number;
  /** Where connection losses and recoveries are logged. */
  readonly logger?: Logger;
  /**
   * How long a new connection may wait for Redis's first answer before every command fails with
   * `BUFFER_UNREACHABLE` (default 5 000 ms; 0 waits forever). Once Redis has answered, a lost
   * connection is retried forever instead.
   */
  readonly firstAnswerTimeoutMs?: number;
  /** Where the user sets the URL, named in error messages (default `the Redis URL`), e.g. `spec.buffer.url`. */
  readonly urlField?: string;
}

/** A client from the blocking pool, for one waiting read at a time. */
export interface BlockingClient {
  readonly client: RedisClient;
  /** Bumped each time this client's connection closes. */
  readonly generation: number;
}

interface PooledClient extends BlockingClient {
  generation: number;
}

/**
 * The ioredis options a Redis URL stands for. Parsed here rather than by ioredis so that TLS for
 * `rediss://`, credentials and db are checked, percent-decoded and testable in one place.
 *
 * @throws {BufferError} `BUFFER_INVALID_OPTIONS` for anything but a valid redis/rediss URL.
 *
 * @example
 * ```ts
 * redisOptionsFromUrl("rediss://app:s%3Acret@cache.internal:6380/2");
 * // { host: "cache.internal", port: 6380, username: "app", password: "s:cret", db: 2, tls: { servername: "cache.internal" } }
 * ```
 */
export function redisOptionsFromUrl(url: string, tls?: TlsOptions): RedisOptions & { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl(url, "it is not a URL");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw invalidUrl(url, `the scheme is "${parsed.protocol}"; use redis:// or rediss:// (TLS)`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (host.length === 0) throw invalidUrl(url, "it has no host");
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  const options: RedisOptions & { host: string; port: number } = { host, port };
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (password.length > 0) {
    options.password = password;
    if (username.length > 0) options.username = username;
  } else if (username.length > 0) {
    throw invalidUrl(url, `it names user "${username}" without a password; write redis://${username}:<password>@… (or redis://:<password>@… for the default user)`);
  }
  const path = parsed.pathname.replace(/^\//, "");
  if (path.length > 0) {
    if (!/^\d{1,5}$/.test(path)) throw invalidUrl(url, `the database "${path}" is not a number (redis://host:port/<db>)`);
    options.db = Number(path);
  }
  if (parsed.protocol === "rediss:") {
    // SNI and certificate checks need the host name; an IP address is checked against the IP SANs.
    options.tls = { ...(isIP(host) === 0 ? { servername: host } : {}), ...tls };
  }
  return options;
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …).
 *
 * @example
 * ```ts
 * reconnectDelay(1, { initialMs: 50, factor: 2, maxMs: 2000, jitter: 0 }); // 50
 * reconnectDelay(10, { initialMs: 50, factor: 2, maxMs: 2000, jitter: 0 }); // 2000
 * ```
 */
export function reconnectDelay(attempt: number, backoff: ReconnectBackoff = DEFAULT_RECONNECT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, attempt - 1));
  return Math.round(base + base * backoff.jitter * random());
}

/**
 * A command client plus a pool of blocking clients to one Redis (or Redis Cluster). Buffers and
 * connectors may share one; whoever created it closes it.
 *
 * @example
 * ```ts
 * const connection = new RedisConnection({ url: "redis://127.0.0.1:6379", logger });
 * const buffer = new RedisStreamBuffer({ ...bufferOptions, connection });
 * // …
 * await buffer.close();
 * await connection.close();
 * ```
 */
export class RedisConnection {
  /** The command client: scripts, writes, acks, non-blocking reads. */
  readonly client: RedisClient;
  readonly url: string;

  private readonly options: RedisConnectionOptions;
  private readonly backoff: ReconnectBackoff;
  private readonly logger: Logger;
  private readonly name: string;
  private readonly idle: PooledClient[] = [];
  private readonly busy = new Set<PooledClient>();
  private commandGeneration = 0;
  private blockingCount = 0;
  private closed = false;
  /** `host:port`, for messages: never the URL, which may hold a password. */
  private readonly endpoint: string;
  private readonly host: string;
  private readonly port: number;
  /** The TLS options clients connect with (rediss://), or undefined for plain redis://. */
  private readonly tls: TlsOptions | undefined;
  private fatal: BufferError | undefined;
  private probedProtocol = false;
  private oomRefusals = 0;
  /** Some client got an answer from Redis (was ready) once: from then on losses are retried forever. */
  private answered = false;
  private firstAnswerTimer: NodeJS.Timeout | undefined;
  /** The last connection error before the first answer, for the BUFFER_UNREACHABLE message. */
  private lastConnectError: string | undefined;
  /** A running protocol probe (TLS vs plain), whose verdict is more precise than "never answered". */
  private probing: Promise<void> | undefined;
  private oomLoggedAt: number | undefined;

  constructor(options: RedisConnectionOptions) {
    // Parse first, so a bad URL fails here with a clear message instead of in a reconnect loop.
    const parsed = redisOptionsFromUrl(options.url, options.tls);
    this.host = parsed.host;
    this.port = parsed.port;
    this.endpoint = endpointOf(parsed.host, parsed.port);
    this.tls = parsed.tls;
    this.options = options;
    this.url = options.url;
    this.backoff = { ...DEFAULT_RECONNECT_BACKOFF, ...options.backoff };
    this.logger = (options.logger ?? silentLogger).child({ component: "redis" });
    this.name = options.name ?? "weir";
    const maxRetries = options.maxRetriesPerRequest === undefined ? 20 : options.maxRetriesPerRequest;
    this.client = this.createClient(`${this.name}:cmd`, maxRetries, options.autoPipelining ?? true, () => {
      this.commandGeneration++;
    });
    defineScripts(this.client);
    const budget = options.firstAnswerTimeoutMs ?? DEFAULT_FIRST_ANSWER_TIMEOUT_MS;
    if (budget > 0) {
      this.firstAnswerTimer = setTimeout(() => void this.checkFirstAnswer(budget), budget);
      this.firstAnswerTimer.unref();
    }
  }

  /** No answer yet after `waitedMs`: fail every command with BUFFER_UNREACHABLE (after a running TLS probe, whose reason wins). */
  private async checkFirstAnswer(waitedMs: number): Promise<void> {
    if (this.probing !== undefined) await this.probing;
    // A process starved of CPU may find Redis's answer waiting behind this timer: read it first.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.answered || this.closed || this.fatal !== undefined) return;
    this.fail(neverAnswered(maskUrl(this.url), this.options.urlField ?? "the Redis URL", waitedMs, this.lastConnectError));
  }

  /** Bumped each time a connection of the command client closes (commands may then be resent). */
  get generation(): number {
    return this.commandGeneration;
  }

  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The `BUFFER_TLS` error (not retriable) that stopped this connection: TLS is misconfigured,
   * so no reconnect is attempted and every command fails with it. `undefined` while healthy.
   */
  get failure(): BufferError | undefined {
    return this.fatal;
  }

  /**
   * Records a write Redis refused for memory (over `maxmemory`); logged aggregated: the first
   * refusal, then at most one line per {@link OOM_LOG_INTERVAL_MS} with the count since the last line.
   */
  noteOutOfMemory(subject: string): void {
    this.oomRefusals += 1;
    const now = performance.now();
    if (this.oomLoggedAt !== undefined && now - this.oomLoggedAt < OOM_LOG_INTERVAL_MS) return;
    this.oomLoggedAt = now;
    this.logger.warn("redis is over maxmemory: writes wait for readers to free memory (backpressure)", {
      refusals: this.oomRefusals,
      last: subject,
      hint: "raise Redis maxmemory, or lower bufferMaxLength or buffer.dedupWindow, if this lasts",
    });
    this.oomRefusals = 0;
  }

  /** A client for one blocking read; give it back with {@link releaseBlocking}. */
  acquireBlocking(): BlockingClient {
    if (this.closed) throw closedError();
    if (this.fatal !== undefined) throw this.fatal;
    let pooled = this.idle.pop();
    if (pooled === undefined) {
      const created: PooledClient = { client: undefined as unknown as RedisClient, generation: 0 };
      (created as { client: RedisClient }).client = this.createClient(`${this.name}:block-${++this.blockingCount}`, null, false, () => {
        created.generation++;
      });
      pooled = created;
    }
    this.busy.add(pooled);
    return pooled;
  }

  /** Returns a blocking client after its command completed. `broken` closes it instead. */
  releaseBlocking(blocking: BlockingClient, broken = false): void {
    const pooled = blocking as PooledClient;
    if (!this.busy.delete(pooled)) return;
    if (broken || this.closed || this.idle.length >= (this.options.maxIdleBlocking ?? 64)) {
      pooled.client.disconnect();
    } else {
      this.idle.push(pooled);
    }
  }

  /** Closes every client. Idempotent; runs every step even when one fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const blocking = [...this.idle, ...this.busy];
    this.idle.length = 0;
    this.busy.clear();
    // Blocking clients may sit in a BLOCK: drop them at once; their reads resolve as closed.
    for (const pooled of blocking) {
      try {
        pooled.client.disconnect();
      } catch {
        // already gone
      }
    }
    clearTimeout(this.firstAnswerTimer);
    // Not connected (never was, or waiting to reconnect): nothing to let finish; end now, so a
    // stop during a connection wait is prompt and the waiting commands fail at once.
    if (this.client.status !== "ready") {
      endClient(this.client, closedError());
      this.client.disconnect(); // a cluster client waiting to reconnect stops too
      return;
    }
    // QUIT lets commands already sent (acks) finish; disconnect if Redis is unreachable.
    try {
      await withTimeout(this.client.quit(), 2_000);
    } catch {
      // unreachable or already closed
    } finally {
      this.client.disconnect();
    }
  }

  private createClient(connectionName: string, maxRetriesPerRequest: number | null, autoPipelining: boolean, onClose: () => void): RedisClient {
    const base = redisOptionsFromUrl(this.options.url, this.options.tls);
    let lost = 0;
    const gate = () => this.fatal;
    const retryStrategy = (attempt: number): number | null => {
      // Misconfigured TLS: stop; the client ends, and the gate answers every command.
      if (this.fatal !== undefined) return null;
      const delay = reconnectDelay(attempt, this.backoff);
      // Log the first attempts, then every tenth, so a long outage is visible but not flooding.
      // Before Redis ever answered, the BUFFER_UNREACHABLE error says it all (at debug only).
      if (!this.answered) this.logger.debug("redis not answering yet; retrying", { connection: connectionName, attempt, delayMs: delay });
      else if (attempt <= 3 || attempt % 10 === 0) {
        this.logger.warn("redis connection lost; reconnecting", { connection: connectionName, attempt, delayMs: delay });
      }
      return delay;
    };
    const common: RedisOptions = {
      connectionName,
      protocol: 2,
      maxRetriesPerRequest,
      enableAutoPipelining: autoPipelining,
      retryStrategy,
    };
    let client: RedisClient;
    if (this.options.cluster === true) {
      const { host, port, db: _db, ...nodeOptions } = base;
      const clusterOptions: ClusterOptions = {
        redisOptions: { ...nodeOptions, connectionName, protocol: 2, maxRetriesPerRequest },
        clusterRetryStrategy: retryStrategy,
        enableAutoPipelining: autoPipelining,
        // Script keys always share one slot, but a resharding may move it: follow MOVED/ASK.
        maxRedirections: 16,
      };
      if (base.tls !== undefined) clusterOptions.dnsLookup = (address, callback) => callback(null, address);
      const cluster = new (gated().GatedCluster)([{ host, port }], clusterOptions, gate);
      cluster.on("+node", (node: Redis) => node.on("close", onClose));
      // A node's handshake errors reach the cluster client as "node error" only.
      cluster.on("node error", (error: unknown) => this.noteError(error));
      client = cluster;
    } else {
      client = new (gated().GatedRedis)({ ...base, ...common }, gate);
    }
    // Connected but not yet answered: a plain client dropped here may be talking to a TLS port.
    let handshaking = false;
    let everReady = false;
    client.on("connect", () => (handshaking = true));
    client.on("close", () => {
      onClose();
      if (!this.closed) lost++;
      if (handshaking && this.tls === undefined) this.probeProtocol();
      handshaking = false;
    });
    if (this.tls !== undefined) {
      // A TLS client talking to a plain port hears nothing back (Redis waits for a line) until the
      // connect timeout, then retries forever: ask the port after a moment instead.
      setTimeout(() => everReady || this.probeProtocol(), TLS_SILENCE_PROBE_MS).unref();
      client.on("error", () => everReady || this.probeProtocol());
    }
    client.on("ready", () => {
      everReady = true;
      this.answered = true;
      clearTimeout(this.firstAnswerTimer);
      handshaking = false;
      if (lost > 0) this.logger.info("redis connection restored", { connection: connectionName });
      lost = 0;
    });
    client.on("error", (error: Error) => {
      if (this.noteError(error)) return;
      if (!this.answered) {
        this.lastConnectError = error.message;
        return;
      }
      // ioredis reports each failed reconnect too; the retry strategy already logs those.
      if (lost === 0 && !this.closed) this.logger.warn("redis connection error", { connection: connectionName, error: error.message });
    });
    return client;
  }

  /** Records a TLS configuration failure (the first one wins); true when `error` is one. */
  private noteError(error: unknown): boolean {
    const failure = tlsFailure(error, this.endpoint);
    if (failure === undefined) return false;
    this.fail(failure);
    return true;
  }

  private fail(failure: BufferError): void {
    if (this.fatal !== undefined || this.closed) return;
    this.fatal = failure;
    clearTimeout(this.firstAnswerTimer);
    // BUFFER_UNREACHABLE reaches the user through the commands it fails, as one line.
    if (failure.code === "BUFFER_TLS") this.logger.error("redis TLS is misconfigured; not reconnecting", { error: failure.message });
    // The retry strategy no longer reconnects; end the clients not connected now, so their queued
    // commands fail with the reason at once instead of at the next attempt.
    for (const client of [this.client, ...this.idle.map((pooled) => pooled.client), ...[...this.busy].map((pooled) => pooled.client)]) {
      endClient(client, failure);
    }
  }

  /**
   * Once per connection, when a client got no answer: a plain (redis://) client dropped before
   * Redis answered, or a TLS (rediss://) client that is not ready after a moment or failed before
   * it ever was. Asks the port whether it speaks the other protocol, and if so fails the
   * connection with a message that says which URL scheme to use; anything else (Redis down, a
   * proxy without a backend, a restart) stays a retried loss. Not for Redis Cluster, whose nodes
   * are other ports.
   */
  private probeProtocol(): void {
    if (this.probedProtocol || this.fatal !== undefined || this.closed || this.options.cluster === true) return;
    this.probedProtocol = true;
    const tls = this.tls;
    if (tls !== undefined) {
      this.probing = speaksPlainRedis(this.host, this.port).then(async (plain) => {
        if (plain) return this.fail(tlsToPlainFailure(this.endpoint));
        // A reset right after the handshake is what a server that wants a client certificate may send.
        const refusal = tls.cert !== undefined ? undefined : await clientCertificateRefusal(this.host, this.port, tls);
        if (refusal !== undefined) this.fail(refusal);
      });
    } else {
      this.probing = speaksTls(this.host, this.port).then((tls) => {
        if (tls) this.fail(plainToTlsFailure(this.endpoint));
      });
    }
  }
}

type ReplyMapping = NonNullable<RedisOptions["replyMapping"]>;

// ioredis (46 modules, ~20 MiB of RSS) is loaded when the first connection is made, not by
// `import "@weir/runtime"` (issue 11). It is CommonJS only, so `require` and any `import` of it
// share one instance and `instanceof` agrees across them.
const require = createRequire(import.meta.url);
const ioredis = (): typeof import("ioredis") => require("ioredis") as typeof import("ioredis");

type Gate = () => Error | undefined;
interface GatedClasses {
  readonly GatedRedis: new (options: RedisOptions, gate: Gate) => Redis;
  readonly GatedCluster: new (nodes: ConstructorParameters<typeof Cluster>[0], options: ConstructorParameters<typeof Cluster>[1], gate: Gate) => Cluster;
}
let gatedClasses: GatedClasses | undefined;

/** The gated client classes, defined once ioredis is loaded (they extend its classes). */
function gated(): GatedClasses {
  gatedClasses ??= defineGatedClasses(ioredis());
  return gatedClasses;
}

function defineGatedClasses({ Redis, Cluster }: typeof import("ioredis")): GatedClasses {
  /**
   * The command and blocking clients: ioredis clients whose commands fail at once with `gate()`'s
   * error once it has one (every command, script and pipeline goes through `sendCommand`), so a
   * misconfigured TLS connection answers with the reason instead of "Connection is closed.".
   */
  class GatedRedis<Mapping extends ReplyMapping = "legacy"> extends Redis<Mapping> {
    private readonly gate: Gate | undefined;

    constructor(options: RedisOptions & { replyMapping?: Mapping }, gate: Gate) {
      super(options);
      this.gate = gate;
    }

    override sendCommand(...args: Parameters<Redis["sendCommand"]>): unknown {
      // `gate` is unset while super() runs, which may already queue handshake commands.
      const fatal = this.gate?.();
      if (fatal === undefined) return super.sendCommand(...args);
      const [command] = args;
      command.reject(fatal);
      return command.promise;
    }
  }

  /** {@link GatedRedis} for Redis Cluster. */
  class GatedCluster<Mapping extends ReplyMapping = "legacy"> extends Cluster<Mapping> {
    private readonly gate: Gate | undefined;

    constructor(nodes: ConstructorParameters<typeof Cluster<Mapping>>[0], options: ConstructorParameters<typeof Cluster<Mapping>>[1], gate: Gate) {
      super(nodes, options);
      this.gate = gate;
    }

    override sendCommand(...args: Parameters<Cluster["sendCommand"]>): unknown {
      const fatal = this.gate?.();
      if (fatal === undefined) return super.sendCommand(...args);
      const [command] = args;
      command.reject(fatal);
      return command.promise;
    }
  }
  return { GatedRedis, GatedCluster };
}

/** Whether Redis refused a command because its used memory is over `maxmemory` (an OOM reply). */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("OOM ");
}

/** Whether an error means "Redis could not be reached", which a later retry may fix. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.name;
  if (name === "MaxRetriesPerRequestError" || name === "ClusterAllFailedError") return true;
  const message = error.message;
  return (
    message === "Connection is closed." ||
    // ioredis rejects the commands of an auto-pipeline that was cut mid-reply (and does not
    // resend them): like a lost reply, each may or may not have run, and is safe to retry.
    message === "Command aborted due to connection close" ||
    message.startsWith("Stream isn't writeable") ||
    /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH)\b/.test(message) ||
    /^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY)\b/.test(message)
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Ends a client that is not connected, failing its queued commands with `error` now: one in its
 * handshake is disconnected (its close flushes the queue); one waiting to reconnect has no socket
 * to close, so its timer is cleared and its queue flushed here (ioredis would strand it).
 * A ready client is left alone.
 */
function endClient(client: RedisClient, error: Error): void {
  const status = client.status;
  if (status === "connecting" || status === "connect" || status === "wait") {
    client.disconnect();
  } else if (status === "reconnecting" && client instanceof ioredis().Redis) {
    // (A cluster client reaches its retry strategy by itself, which then ends it.)
    client.disconnect();
    const internals = client as unknown as { flushQueue(error: Error): void; setStatus(status: string): void };
    internals.flushQueue(error);
    internals.setStatus("end");
  }
}

function invalidUrl(url: string, why: string): BufferError {
  // Never echo a password back into logs (nor attach a cause that would quote the URL).
  const shown = maskUrl(url);
  return new BufferError("BUFFER_INVALID_OPTIONS", `invalid Redis URL ${JSON.stringify(shown)}: ${why}`);
}

function closedError(): BufferError {
  return new BufferError("BUFFER_CLOSED", "the Redis connection was closed; create a new one to keep reading");
}
