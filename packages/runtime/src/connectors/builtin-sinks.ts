/**
 * The built-in sinks: `log`, `blackhole`, `jsonl` (exactly-once with `exactlyOnce: true`, see
 * exactly-once-jsonl-sink.ts), `module`, `process` (an external process
 * per partition, docs/protocol.md) and `bullmq` (one job per message; as a fallback, the
 * dead-letter queue). Each answers one result per message id, as every sink must.
 */
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import type { Message, SinkContext, SinkFunction, SinkResult } from "@weir/actors";
import type { SinkConnectorSpec } from "../spec/pipeline-spec.js";
import { BullmqError } from "./bullmq/bullmq-error.js";
import { ConnectorError } from "./connector-error.js";
import { createExactlyOnceJsonlSink } from "./exactly-once-jsonl-sink.js";
import { toJsonLine } from "./json-line.js";
import { importExport } from "./load-module.js";
import { createProcessSink } from "./process/process-sink.js";
import { silentLogger, type Logger } from "../observability/logger.js";
import { tlsFor, type ServerTls } from "../buffer/redis/server-tls.js";
import { sinkConnectorFromFunction, type SinkConnector } from "./sink-connector.js";
import { ALL_OK, okResults, withAllOkForm } from "./all-ok-answer.js";

export { toJsonLine } from "./json-line.js";

const decoder = new TextDecoder();

const allOk = (messages: readonly Message[]): SinkResult[] => messages.map((message) => ({ id: message.id, status: "ok" }));

export interface BuiltinSinkOptions {
  /** Where the `log` sink writes (stdout unless the CLI needs stdout for `--json`). */
  readonly logStream?: NodeJS.WritableStream;
  /** Partitions of the vertex: the `process` sink starts one process per partition. */
  readonly partitions?: number;
  /** Where the `process` sink logs its processes' stderr, restarts and protocol errors. */
  readonly logger?: Logger;
  /** How long the `process` sink, used as a fallback, waits for an answer, in ms. */
  readonly resultTimeout?: number;
  /** Counts the `process` sink's protocol errors that no sink session counts (process-worker.ts). */
  readonly onProtocolError?: (code: string) => void;
  /** The redis buffer's TLS settings: `redisStream` and `bullmq` sinks on its server use them. */
  readonly redisTls?: ServerTls;
  /** Told what an idempotent sink (`redisStream`) skipped as already written, to count it `deduped`. */
  readonly onDeduped?: (count: number, reason: string) => void;
}

export async function createBuiltinSink(vertex: string, spec: SinkConnectorSpec, options: BuiltinSinkOptions = {}): Promise<SinkConnector> {
  // All ok, without an object per message (all-ok-answer.ts); `write` still answers one result each.
  if ("blackhole" in spec) return sinkConnectorFromFunction(withAllOkForm(async (messages: readonly Message[]) => okResults(messages), async () => ALL_OK));
  if ("log" in spec) return createLogSink(vertex, options.logStream ?? process.stdout);
  if ("jsonl" in spec) {
    if (!spec.jsonl.exactlyOnce) return createJsonlSink(spec.jsonl.path);
    return createExactlyOnceJsonlSink(spec.jsonl.path, { logger: (options.logger ?? silentLogger).child({ vertex }) });
  }
  if ("redisStream" in spec) {
    const { url, stream, maxLen } = spec.redisStream;
    const tls = tlsFor(url, options.redisTls);
    // Connectors with heavy clients (ioredis, bullmq) load only when a spec uses them.
    const { createRedisStreamSink } = await import("./redis-stream-sink.js");
    return createRedisStreamSink({
      connection: { url, name: `weir:${vertex}:sink`, ...(tls === undefined ? {} : { tls }) },
      stream,
      ...(maxLen === undefined ? {} : { maxLen }),
      ...(options.onDeduped === undefined ? {} : { onDeduped: options.onDeduped }),
    });
  }
  if ("process" in spec) {
    return createProcessSink(
      vertex,
      {
        ...spec.process,
        partitions: options.partitions ?? 1,
        ...(options.resultTimeout === undefined ? {} : { resultTimeout: options.resultTimeout }),
        ...(options.onProtocolError === undefined ? {} : { onProtocolError: options.onProtocolError }),
      },
      options.logger ?? silentLogger,
    );
  }
  if ("bullmq" in spec) {
    const { queue, url, prefix } = spec.bullmq;
    // Parsing fills `url` from a redis buffer and rejects a spec that leaves it unset otherwise.
    if (url === undefined) throw new BullmqError("BULLMQ_INVALID_OPTIONS", `bullmq sink of vertex '${vertex}': queue '${queue}' has no url`);
    const tls = tlsFor(url, options.redisTls);
    const { createBullmqSink } = await import("./bullmq/bullmq-sink.js");
    return createBullmqSink({
      queue,
      url,
      prefix,
      ...(tls === undefined ? {} : { tls }),
      ...(options.logger === undefined ? {} : { logger: options.logger.child({ vertex }) }),
    });
  }
  return createModuleSink(vertex, spec.module.path, spec.module.export);
}

function createLogSink(vertex: string, stream: NodeJS.WritableStream): SinkConnector {
  return sinkConnectorFromFunction(async (messages, context) => {
    let text = "";
    for (const message of messages) {
      text += `${vertex}[${context.partition}] id=${message.id} keys=${JSON.stringify(message.keys)} eventTime=${message.eventTime} value=${decoder.decode(message.value)}\n`;
    }
    stream.write(text);
    return allOk(messages);
  });
}

async function createJsonlSink(path: string): Promise<SinkConnector> {
  let handle: FileHandle;
  try {
    await mkdir(dirname(path), { recursive: true });
    handle = await open(path, "a");
  } catch (error) {
    throw new ConnectorError("SINK_OPEN_FAILED", `jsonl sink: cannot open ${path} for appending: ${(error as Error).message}`, { cause: error });
  }
  // Partitions write concurrently; chaining keeps each batch's lines together in the file.
  let queue: Promise<unknown> = Promise.resolve();
  const write: SinkFunction = (messages, context) => {
    const text = messages.map((message) => toJsonLine(message, context.partition)).join("\n") + "\n";
    const written = queue.then(() => handle.write(text));
    queue = written.catch(() => undefined);
    return written.then(() => allOk(messages));
  };
  return sinkConnectorFromFunction(write, { close: () => queue.then(() => handle.close()) });
}

interface ModuleSinkShape {
  write?: SinkFunction;
  commit?: (epoch: number) => Promise<void>;
  close?: () => Promise<void>;
}

/**
 * A sink function exported by a user module: either the function itself (with optional
 * `commit` and `close` properties) or an object `{ write, commit?, close? }`.
 */
async function createModuleSink(vertex: string, path: string, exportName: string): Promise<SinkConnector> {
  const what = `sink of vertex '${vertex}'`;
  const value = await importExport(path, exportName, what);
  const shape: ModuleSinkShape =
    typeof value === "function"
      ? {
          write: value as SinkFunction,
          ...("commit" in value ? { commit: (value as ModuleSinkShape).commit } : {}),
          ...("close" in value ? { close: (value as ModuleSinkShape).close } : {}),
        }
      : (value as ModuleSinkShape);
  if (typeof shape.write !== "function") {
    throw new ConnectorError(
      "MODULE_EXPORT_INVALID",
      `${what}: export '${exportName}' of ${path} must be a function (messages, ctx) => results, or an object with a write function`,
    );
  }
  const userWrite = shape.write;
  const write: SinkFunction = (messages: readonly Message[], context: SinkContext) => Promise.resolve(userWrite(messages, context));
  return sinkConnectorFromFunction(write, {
    ...(typeof shape.commit === "function" ? { commit: shape.commit } : {}),
    ...(typeof shape.close === "function" ? { close: shape.close } : {}),
  });
}
