/**
 * Map UDFs (DESIGN §4.1): `(message, ctx) => Result[] | Promise<Result[]>`, or the batch form
 * exported as `{ batch: (messages, ctx) => Array<{ id, results }> }`. Results may be empty
 * (the message is filtered out), carry new keys, and carry tags for conditional forwarding.
 * `{ process: { command } }` runs the map in an external process (docs/protocol.md).
 */
import type { Message } from "@weir/actors";
import type { UdfSpec } from "../spec/pipeline-spec.js";
import { ConnectorError } from "../connectors/connector-error.js";
import { importExport } from "../connectors/load-module.js";
import { createProcessMapStage } from "../connectors/process/process-map.js";
import { silentLogger, type Logger } from "../observability/logger.js";

export interface MapResult {
  /** Bytes, or text that is written as UTF-8. */
  readonly value: Uint8Array | string;
  /** Defaults to the input message's keys. */
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
}

export interface MapContext {
  readonly vertex: string;
  readonly partition: number;
  /** The epoch and attempt of the map vertex's sink session this call belongs to. */
  readonly epoch: number;
  readonly attempt: number;
  readonly signal: AbortSignal;
}

/**
 * "Not now: bring this message back in `delayMs`" (docs/flow-control.md, "Delayed redelivery"):
 * what a per-message udf returns instead of its results to have the message redelivered later;
 * its epoch commits meanwhile.
 */
export interface RetryLaterAnswer {
  readonly status: "retryLater";
  readonly delayMs: number;
}

export type MapFunction = (
  message: Message,
  context: MapContext,
) => readonly MapResult[] | RetryLaterAnswer | Promise<readonly MapResult[] | RetryLaterAnswer>;
/** The batch form's answer for one id: its results, why that message failed, or retryLater. */
export type BatchMapAnswer =
  | { readonly id: string; readonly results: readonly MapResult[] }
  | { readonly id: string; readonly error: string }
  | ({ readonly id: string } & RetryLaterAnswer);

export type BatchMapFunction = (
  messages: readonly Message[],
  context: MapContext,
) => ReadonlyArray<BatchMapAnswer> | Promise<ReadonlyArray<BatchMapAnswer>>;

/** A map vertex's function in the form the forwarder calls; `close` ends what it holds (processes). */
export type MapStage =
  | { readonly kind: "message"; readonly map: MapFunction }
  | { readonly kind: "batch"; readonly map: BatchMapFunction; readonly close?: () => Promise<void> };

export interface MapStageOptions {
  /** Partitions of the vertex (a process map starts one process per partition). */
  readonly partitions?: number;
  /** Where a process map logs its processes' stderr and protocol errors. */
  readonly logger?: Logger;
  /** How long a process map waits for a process's answer, in ms. */
  readonly resultTimeout?: number;
  /** Counts a process map's protocol errors (the run summary's `protocolErrors`). */
  readonly onProtocolError?: (code: string) => void;
}

/** `cat`: passes every message on unchanged (the forwarder skips the call on this hot path). */
export const catStage: MapStage = { kind: "message", map: (message) => [{ value: message.value, keys: message.keys }] };

export async function loadMapStage(vertex: string, spec: UdfSpec, options: MapStageOptions = {}): Promise<MapStage> {
  if ("builtin" in spec) return catStage;
  if ("process" in spec) {
    return createProcessMapStage(
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
  const what = `udf of vertex '${vertex}'`;
  const value = await importExport(spec.module.path, spec.module.export, what);
  return toMapStage(value, `${what} (${spec.module.path}#${spec.module.export})`);
}

export function toMapStage(value: unknown, what: string): MapStage {
  if (typeof value === "function") return { kind: "message", map: value as MapFunction };
  if (typeof value === "object" && value !== null && typeof (value as { batch?: unknown }).batch === "function") {
    return { kind: "batch", map: (value as { batch: BatchMapFunction }).batch };
  }
  throw new ConnectorError(
    "MODULE_EXPORT_INVALID",
    `${what} must be a function (message, ctx) => results, or an object { batch: (messages, ctx) => [{ id, results }] }`,
  );
}
