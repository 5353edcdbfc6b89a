/**
 * Which spec a pipeline's Redis keys belong to. Two deployments with the same pipeline name and
 * keyPrefix share every key: each reads the other's messages and ends the other's streams. So the
 * first worker to start records the spec's fingerprint beside the buffers (keys.ts `specKey`,
 * SET NX: one winner), and every later worker compares: the same fingerprint starts, another
 * refuses with `BUFFER_SPEC_MISMATCH` naming both specs and the fix. `weir reset` deletes it.
 *
 * The fingerprint covers what defines the buffers and how messages move between them: the
 * pipeline's name, the keyPrefix, each vertex's name, kind and partitions, and the edges with their
 * conditions. Sources', udfs' and sinks' settings are left out, so a redeploy with new code or
 * limits is the same pipeline; two specs with one graph cannot be told apart by it.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { BufferError } from "../buffer/buffer-error.js";
import { isConnectionError, isOutOfMemory, type RedisConnection } from "../buffer/redis/redis-connection.js";
import { specKey } from "../buffer/redis/keys.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";

/** What is stored at the spec key (JSON). */
export interface SpecRecord {
  /** sha256 of the graph, first 16 hex digits. */
  readonly fingerprint: string;
  /** `in → out[2]`-style summary of the vertices, for messages. */
  readonly graph: string;
  /** The spec file of the worker that recorded it, when it came from a file. */
  readonly file?: string;
  readonly host: string;
}

/** The fingerprint of the parts of `spec` that define its buffers and graph (see the module doc). */
export function specFingerprint(spec: PipelineSpec): string {
  const buffer = spec.spec.buffer;
  const graph = {
    name: spec.metadata.name,
    keyPrefix: buffer.type === "redis" ? buffer.keyPrefix : null,
    vertices: [...spec.spec.vertices].map((v) => [v.name, v.kind, v.partitions]).sort(),
    edges: spec.spec.edges.map((e) => [e.from, e.to, JSON.stringify(e.conditions ?? null)]).sort(),
  };
  return createHash("sha256").update(JSON.stringify(graph)).digest("hex").slice(0, 16);
}

/** This spec's record: fingerprint, graph summary, file and host. */
export function specRecord(spec: PipelineSpec, file: string | undefined): SpecRecord {
  const graph = spec.spec.vertices.map((v) => (v.kind === "source" ? v.name : `${v.name}[${v.partitions}]`)).join(", ");
  return { fingerprint: specFingerprint(spec), graph, ...(file === undefined ? {} : { file }), host: hostname() };
}

/**
 * Records this spec at the pipeline's spec key when none is there, or checks that the one there is
 * the same. A key that is not a Weir record (written by something else) is refused the same way.
 *
 * @throws {BufferError} `BUFFER_SPEC_MISMATCH` (not retriable) when the keys belong to another spec.
 */
export async function claimSpecKeys(connection: RedisConnection, spec: PipelineSpec, file: string | undefined): Promise<void> {
  try {
    await claim(connection, spec, file);
  } catch (error) {
    throw asBufferError(connection, error);
  }
}

async function claim(connection: RedisConnection, spec: PipelineSpec, file: string | undefined): Promise<void> {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis") return;
  const client = connection.client;
  const key = specKey(buffer.keyPrefix, spec.metadata.name);
  const mine = specRecord(spec, file);
  if ((await client.set(key, JSON.stringify(mine), "NX")) === "OK") return;
  const stored = await client.get(key);
  // Deleted between the two calls (a weir reset): claim again.
  if (stored === null) return claim(connection, spec, file);
  const theirs = parseRecord(stored);
  if (theirs?.fingerprint === mine.fingerprint) return;
  throw mismatch(spec.metadata.name, buffer.keyPrefix, key, theirs, mine);
}

/** A failed call as the buffers report it: the connection's own failure (TLS, unreachable) first. */
function asBufferError(connection: RedisConnection, error: unknown): BufferError {
  if (error instanceof BufferError) return error;
  if (connection.failure !== undefined) return connection.failure;
  const message = error instanceof Error ? error.message : String(error);
  const where = "recording the spec fingerprint";
  if (connection.isClosed) return new BufferError("BUFFER_CLOSED", `${where} failed because the Redis connection was closed (the pipeline was stopped)`, { cause: error });
  if (isOutOfMemory(error)) return new BufferError("BUFFER_OUT_OF_MEMORY", `${where}: Redis is over its maxmemory (${message}); free memory or raise maxmemory`, { retriable: true, cause: error });
  if (isConnectionError(error)) return new BufferError("BUFFER_UNAVAILABLE", `${where}: Redis is unreachable (${message}); retry once it is back`, { retriable: true, cause: error });
  return new BufferError("BUFFER_SCRIPT", `${where} failed: ${message}`, { cause: error });
}

function parseRecord(text: string): SpecRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<SpecRecord>;
    return typeof value.fingerprint === "string" ? (value as SpecRecord) : undefined;
  } catch {
    return undefined;
  }
}

function describe(record: SpecRecord): string {
  return `${record.file ?? "a spec given in code"} (fingerprint ${record.fingerprint}: ${record.graph}; host ${record.host})`;
}

function mismatch(pipeline: string, keyPrefix: string, key: string, theirs: SpecRecord | undefined, mine: SpecRecord): BufferError {
  const owner = theirs === undefined ? `something that is not a Weir spec record (key ${key})` : describe(theirs);
  return new BufferError(
    "BUFFER_SPEC_MISMATCH",
    `the Redis keys of pipeline '${pipeline}' (keyPrefix ${keyPrefix}) belong to another spec: ${owner}; this is ${describe(mine)}. ` +
      `Two deployments with one name and keyPrefix would share buffers and mix their messages. ` +
      `Give this one its own spec.buffer.keyPrefix (or metadata.name), or, if the other pipeline is retired, delete its keys: weir reset <its spec> --yes`,
    { retriable: false },
  );
}
