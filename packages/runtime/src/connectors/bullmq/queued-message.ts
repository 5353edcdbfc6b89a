/**
 * How a message is stored in a BullMQ job, and how a job becomes a message.
 *
 * Jobs Weir writes (the `bullmq` sink, the dead-letter queue) have this data, plain JSON that a
 * BullMQ worker in any language can read:
 *
 * ```json
 * { "id": "in-0-17", "keys": ["k"], "value": "aGVsbG8=", "encoding": "base64", "eventTime": 1718000000000,
 *   "headers": {}, "vertex": "out", "partition": 2, "epoch": 41,
 *   "reason": "boom", "attempts": 3 }            ← dead letters only
 * ```
 *
 * A dead letter's `reason` is the last error or the sink's `fallback` reason, and `attempts` the
 * attempts made; they come from the `x-weir-*` headers the fallback writer stamps
 * (fallback-writer.ts), which are taken out of `headers` and kept as fields.
 *
 * The `bullmq` source reads any job (see {@link messageFromJob}): data that is an object with a
 * string `value` is read as a message (`encoding: "base64"` marks base64, otherwise the text is
 * the value), taking `keys`, `headers` and `eventTime` when present; any other data becomes the
 * value as JSON. A dead letter read back gets its `x-weir-*` headers again, so a pipeline that
 * consumes a dead-letter queue sees what a jsonl fallback would have written.
 */
import type { Message } from "@weir/actors";
import { fallbackHeaders } from "../../pipeline/fallback-writer.js";
import { isRecord } from "../../spec/issue-draft.js";
import { fromJobId, toJobId } from "./job-id.js";

/** The data of a job written by Weir. */
export interface QueuedMessageData {
  readonly id: string;
  readonly keys: readonly string[];
  /** The value's bytes, base64. */
  readonly value: string;
  readonly encoding: "base64";
  readonly eventTime: number;
  /** The message's headers, without the `x-weir-*` fallback headers (they are the fields below). */
  readonly headers: Readonly<Record<string, string>>;
  /** The vertex that wrote the job (for a dead letter: the vertex the message failed in). */
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  /** Dead letters only: the last error, or the reason the sink gave with `fallback`. */
  readonly reason?: string;
  /** Dead letters only: attempts made before the message fell back. */
  readonly attempts?: number;
}

/** Where a job is written from: the sink context of the attempt. */
export interface JobOrigin {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
}

/** The part of a BullMQ job that {@link messageFromJob} reads. */
export interface JobLike {
  readonly id?: string | undefined;
  readonly data: unknown;
  readonly timestamp: number;
}

const FALLBACK_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(fallbackHeaders));
const encoder = new TextEncoder();

/**
 * The job data of a message. A message stamped by the fallback writer becomes a dead letter: its
 * `x-weir-*` headers become `reason`, `attempts`, `vertex` and `partition`.
 *
 * @example
 * ```ts
 * const data = toJobData(message, { vertex: "out", partition: 0, epoch: 3 });
 * await queue.add("out", data, { jobId: toJobId(message.id) });
 * ```
 */
export function toJobData(message: Message, origin: JobOrigin): QueuedMessageData {
  const stamped = message.headers[fallbackHeaders.reason];
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (stamped === undefined || !FALLBACK_HEADER_NAMES.has(name)) headers[name] = value;
  }
  const data: QueuedMessageData = {
    id: message.id,
    keys: [...message.keys],
    value: toBuffer(message.value).toString("base64"),
    encoding: "base64",
    eventTime: message.eventTime,
    headers,
    vertex: origin.vertex,
    partition: origin.partition,
    epoch: origin.epoch,
  };
  if (stamped === undefined) return data;
  const partition = Number(message.headers[fallbackHeaders.partition]);
  const attempts = Number(message.headers[fallbackHeaders.attempts]);
  return {
    ...data,
    vertex: message.headers[fallbackHeaders.vertex] ?? origin.vertex,
    partition: Number.isInteger(partition) ? partition : origin.partition,
    reason: stamped,
    ...(Number.isInteger(attempts) ? { attempts } : {}),
  };
}

/**
 * The message a job stands for (see the module doc). Its id is the id of the message the job
 * was written for when the job id was made from it by `toJobId` — so a message that went
 * through a bullmq sink keeps its id — and the job id otherwise.
 */
export function messageFromJob(job: JobLike): Message {
  const jobId = job.id ?? "";
  const data = job.data;
  if (!isRecord(data) || typeof data["value"] !== "string") {
    return { id: jobId, keys: [], value: encoder.encode(JSON.stringify(data ?? null)), eventTime: job.timestamp, headers: {} };
  }
  const value = data["encoding"] === "base64" ? new Uint8Array(Buffer.from(data["value"], "base64")) : encoder.encode(data["value"]);
  const headers: Record<string, string> = isRecord(data["headers"])
    ? Object.fromEntries(Object.entries(data["headers"]).map(([name, header]) => [name, String(header)]))
    : {};
  if (typeof data["reason"] === "string") {
    headers[fallbackHeaders.reason] = data["reason"];
    if (typeof data["vertex"] === "string") headers[fallbackHeaders.vertex] = data["vertex"];
    if (typeof data["partition"] === "number") headers[fallbackHeaders.partition] = String(data["partition"]);
    if (typeof data["attempts"] === "number") headers[fallbackHeaders.attempts] = String(data["attempts"]);
  }
  const id = typeof data["id"] === "string" && toJobId(data["id"]) === jobId ? data["id"] : jobId;
  return {
    id,
    keys: Array.isArray(data["keys"]) ? data["keys"].map((key) => String(key)) : [],
    value,
    eventTime: typeof data["eventTime"] === "number" && Number.isFinite(data["eventTime"]) ? data["eventTime"] : job.timestamp,
    headers,
  };
}

/** The message id a job of Weir's stands for: `data.id`, else the job id decoded. */
export function messageIdOfJob(job: JobLike): string {
  const data = job.data;
  if (isRecord(data) && typeof data["id"] === "string") return data["id"];
  return fromJobId(job.id ?? "");
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
