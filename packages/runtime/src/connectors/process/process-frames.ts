/**
 * The frames of the external-process protocol (docs/protocol.md), one JSON object per line.
 *
 *   Weir ──hello──────────────────────────────▶ process      once, first
 *   Weir ◀──────────────────────────────ready── process      before anything else
 *   Weir ──data(p,e,a,messages)…, eot(p,e,a,count)──▶        per attempt
 *   Weir ◀──results(p,e,a,results)…, endOfResults(p,e,a)──   per attempt
 *   Weir ──(stdin closed)─────────────────────▶ process      exit
 *
 * Weir's frames are built here as text; every frame the process sends is parsed and validated
 * here with zod. A line that is not JSON, or not one of the role's frames, is *malformed*: the
 * caller reports it as a crash of the attempt (it cannot know which results the line held).
 * Unknown fields are ignored, so later protocol versions can add fields.
 */
import { z } from "zod";
import type { Message } from "@weir/actors";

/** The protocol version Weir speaks; `hello` and `ready` both carry it. */
export const PROTOCOL_VERSION = 1;

/**
 * A sink answers each message with a status; a map answers it with zero or more new messages; a
 * reduce process answers a whole window (its messages, then an `eot` naming the window) with its results.
 */
export type ProcessRole = "sink" | "map" | "reduce";

// ── Weir → process ───────────────────────────────────────────────────────────────────────

/** Messages per data frame stop growing once a frame holds about this many bytes. */
export const DATA_FRAME_TARGET_BYTES = 1 << 20;

export interface HelloFields {
  readonly role: ProcessRole;
  readonly vertex: string;
  readonly partition: number;
  readonly partitions: number;
}

export function encodeHello(fields: HelloFields): string {
  return `${JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, ...fields })}\n`;
}

export interface AttemptFrameFields {
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
}

/** One message as a data frame carries it: the value as base64, everything else as is. */
export function encodeMessage(message: Message): string {
  const value = Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength).toString("base64");
  return JSON.stringify({ id: message.id, keys: message.keys, value, eventTime: message.eventTime, headers: message.headers });
}

/**
 * An attempt as text: its messages in data frames of about {@link DATA_FRAME_TARGET_BYTES}
 * (one message per frame when a message is bigger), then the eot with the count.
 */
export function encodeAttempt(
  fields: AttemptFrameFields,
  messages: readonly Message[],
  targetBytes = DATA_FRAME_TARGET_BYTES,
  /** Extra fields of the eot: a reduce process's window and keys. */
  eotExtra: Readonly<Record<string, unknown>> = {},
): string {
  const head = `{"type":"data","partition":${fields.partition},"epoch":${fields.epoch},"attempt":${fields.attempt},"messages":[`;
  const frames: string[] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const message of messages) {
    const text = encodeMessage(message);
    if (batch.length > 0 && bytes + text.length > targetBytes) {
      frames.push(`${head}${batch.join(",")}]}\n`);
      batch = [];
      bytes = 0;
    }
    batch.push(text);
    bytes += text.length + 1;
  }
  if (batch.length > 0) frames.push(`${head}${batch.join(",")}]}\n`);
  frames.push(`${JSON.stringify({ type: "eot", ...fields, count: messages.length, ...eotExtra })}\n`);
  return frames.join("");
}

// ── process → Weir ───────────────────────────────────────────────────────────────────────

const counter = z.number().int().min(0);
const attemptFields = { partition: counter, epoch: counter, attempt: counter };

const readyFrameSchema = z.object({ type: z.literal("ready"), protocol: z.number().int() });

const sinkResultSchema = z.object({
  id: z.string(),
  status: z.enum(["ok", "failure", "fallback", "retryLater"]),
  error: z.string().optional(),
  reason: z.string().optional(),
  /** With `retryLater`: milliseconds until the message comes back (docs/flow-control.md). */
  delayMs: z.number().optional(),
});

const mapOutputSchema = z.object({
  value: z.base64(),
  keys: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
});

const mapResultSchema = z.union([
  z.object({ id: z.string(), results: z.array(mapOutputSchema) }),
  z.object({ id: z.string(), error: z.string() }),
  z.object({ id: z.string(), status: z.literal("retryLater"), delayMs: z.number() }),
]);

const endOfResultsFrameSchema = z.object({ type: z.literal("endOfResults"), ...attemptFields });

const sinkFrameSchema = z.discriminatedUnion("type", [
  readyFrameSchema,
  z.object({ type: z.literal("results"), ...attemptFields, results: z.array(sinkResultSchema) }),
  endOfResultsFrameSchema,
]);

const mapFrameSchema = z.discriminatedUnion("type", [
  readyFrameSchema,
  z.object({ type: z.literal("results"), ...attemptFields, results: z.array(mapResultSchema) }),
  endOfResultsFrameSchema,
]);

const reduceFrameSchema = z.discriminatedUnion("type", [
  readyFrameSchema,
  z.object({ type: z.literal("results"), ...attemptFields, results: z.array(mapOutputSchema) }),
  endOfResultsFrameSchema,
]);

export type ReadyFrame = z.output<typeof readyFrameSchema>;
export type SinkResultEntry = z.output<typeof sinkResultSchema>;
export type MapResultEntry = z.output<typeof mapResultSchema>;
export type MapOutputEntry = z.output<typeof mapOutputSchema>;
export type EndOfResultsFrame = z.output<typeof endOfResultsFrameSchema>;
export type SinkResultsFrame = Extract<z.output<typeof sinkFrameSchema>, { type: "results" }>;
export type MapResultsFrame = Extract<z.output<typeof mapFrameSchema>, { type: "results" }>;
export type ReduceResultsFrame = Extract<z.output<typeof reduceFrameSchema>, { type: "results" }>;
export type ResultsFrame = SinkResultsFrame | MapResultsFrame | ReduceResultsFrame;
/** A frame of an attempt, as the process sent it. */
export type AttemptFrame = ResultsFrame | EndOfResultsFrame;
export type ProcessFrame = ReadyFrame | AttemptFrame;

/**
 * A line that is not a valid frame. `names` is the attempt the line says it belongs to, when it
 * is a JSON object with integer `partition`, `epoch` and `attempt`: only such a line can be
 * charged to an attempt (a bare `print` on stdout names none).
 */
export type MalformedLine = { readonly malformed: string; readonly names?: AttemptFrameFields };
export type ParsedLine = { readonly frame: ProcessFrame } | MalformedLine;

const EXCERPT_CHARS = 160;

/** Parses one line the process wrote. Blank lines are not passed here (the caller skips them). */
export function parseProcessLine(line: string, role: ProcessRole): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { malformed: `not JSON: ${excerpt(line)} (stdout carries frames only; write logs to stderr)` };
  }
  const result = (role === "sink" ? sinkFrameSchema : role === "map" ? mapFrameSchema : reduceFrameSchema).safeParse(value);
  if (!result.success) {
    const details = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length === 0 ? "(frame)" : issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    const names = namedAttempt(value);
    return { malformed: `not a valid ${role} frame (${details}): ${excerpt(line)}`, ...(names === undefined ? {} : { names }) };
  }
  return { frame: result.data };
}

function namedAttempt(value: unknown): AttemptFrameFields | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { partition, epoch, attempt } = value as Record<string, unknown>;
  const isCount = (n: unknown): n is number => Number.isInteger(n);
  return isCount(partition) && isCount(epoch) && isCount(attempt) ? { partition, epoch, attempt } : undefined;
}

function excerpt(line: string): string {
  return line.length <= EXCERPT_CHARS ? line : `${line.slice(0, EXCERPT_CHARS)}… (${line.length} chars)`;
}
