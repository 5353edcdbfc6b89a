/**
 * The records of a Weir trace (`weir run --trace <file.jsonl>`): one JSON object per line, in
 * the order things happened. docs/traces.md describes the format for people; this file is the
 * same description for the compiler.
 *
 *   header                       once, first
 *   start ─▶ snap/invoke/timer…  a root actor (one supervisor per vertex) started, and what followed
 *   io    ─▶ snap/invoke/timer…  an I/O actor answered (read batch, ack, sink frames, fallback, commit)
 *   fire  ─▶ …                   a timer fired
 *   send  ─▶ …                   an event came from outside (e.g. `pipeline.drain`)
 *   stop  ─▶ …                   a root actor was stopped from outside
 *   end                          once, last: what the recorder wrote and elided
 *
 * `start`, `io` (without `sync`), `fire`, `send` and `stop` are *stimuli*: the replay performs
 * them in order. `snap`, `invoke` and `timer` are *expectations*: what every actor did in
 * response, which the replay checks. `ev`, `emit` and `cancel` are for people and tools only.
 */

/**
 * v2 (issue 12): a reader's reads and acks go through one long-lived `readerIo` actor, so they
 * show up as `io` records of `readerIo` (`readerIo.batch`, `readerIo.acked` …) instead of one
 * `readBatch`/`ackOffsets` invocation each. A v1 trace cannot replay against these machines.
 *
 * v3 (issue 12): a sink session's attempts go to one long-lived `sinkWriter` actor
 * (`sinkWriter.write` requests, answered by `io` records of `sinkWriter`) instead of one
 * `sinkWriter` invocation per attempt. A v2 trace cannot replay against these machines.
 *
 * v4 (issue 12): an epoch's data rides on its EOT (`batcher.eot { count, messages }`, no
 * `batcher.data` frame), a batcher rests in `eotSent` after a close until its next event, and a
 * reader's `readerIo` reads on by itself within a credit (`reader.read` per grant, not per read;
 * an empty read sends nothing). A v3 trace expects a sink-session step for `batcher.data`, the
 * batcher back in `collecting` after every close and a reader step per empty read, so its replay
 * would diverge at the first epoch.
 *
 * v5 (issue 12): a reader's `readerIo` hands its reads of new entries to the batcher itself
 * (`io` records of `readerIo` with `to`: the batcher's path) and answers the reader only when a
 * grant ends. A v4 trace feeds every read to the reader, which no longer hands reads over, so the
 * batcher's steps would be missing from its first read on.
 *
 * v6 (issue 12, session 8): two changes of the same session. A sink session's answer that ends an
 * attempt decides in its own step (done, retry or finishing) and the session rests in `eotReceived`
 * after an epoch until the next EOT; a v5 trace expects the eventless steps after the answer. And a
 * seal while a reader's grant runs adds to the grant's credit (a `reader.credit` request to
 * `readerIo`), so a grant goes on across epochs; a v5 trace has a grant end and a new `reader.read`
 * there. Either way its replay would diverge at the first epoch.
 *
 * v7 (issue 12, session 9): a batcher's close is one step — into `flushing` when the epoch collected
 * something, into `eotSent` when its EOT goes out alone — and the batcher rests there until its next
 * hand-over (v6: `flushing`, then an eventless step into `eotSent`); a supervisor's `running` is one
 * region resting in `collecting`, `joining` or `committing` (it was parallel: intake × commits), and a
 * close held back by `maxInflightEpochs` happens in the step of the commit that frees its slot (it was
 * an eventless step of the `throttled` state); a partition reader's commit queue is context, not a
 * parallel region (its state value is `{ active: { fetch: … } }`, with `draining.idle`/`draining.acking`
 * once its reads are over); a sink session's attempt is the top-level states `writing` and
 * `awaitingResults` (v6: `{ attempt: … }`), its result timeout a delayed `sinkSession.resultTimeout` set
 * with the write and cancelled on leaving (v6: an `after` of `attempt`). A v6 trace's replay would
 * diverge at the first close, reader step or sink attempt.
 */
export const traceFormat = "weir.trace/v7";
/** Formats this replay refuses with a reason, not just "unsupported". */
export const retiredTraceFormats: Readonly<Record<string, string>> = {
  "weir.trace/v1":
    "it was recorded before issue 12, when each read and ack was its own readBatch/ackOffsets actor; replay it with the Weir version that recorded it, or record the run again",
  "weir.trace/v2":
    "it was recorded when each sink attempt was its own sinkWriter actor (one invocation per attempt); replay it with the Weir version that recorded it, or record the run again",
  "weir.trace/v3":
    "it was recorded when an epoch's data went to the sink session in a batcher.data frame before its EOT, the batcher returned to collecting after every close and a reader asked for every read; replay it with the Weir version that recorded it, or record the run again",
  "weir.trace/v4":
    "it was recorded when every read went from a reader's readerIo to the reader, which handed it to the batcher (now readerIo hands reads to the batcher itself); replay it with the Weir version that recorded it, or record the run again",
  "weir.trace/v5":
    "it was recorded when a sink session went back to idle in an eventless step after every epoch and a reader's grant ended once its first credit was used up (now an attempt's answer decides in its own step, the session rests in eotReceived, and a seal extends the running grant with reader.credit); replay it with the Weir version that recorded it, or record the run again",
  "weir.trace/v6":
    "it was recorded when a batcher's close took two steps (flushing, then an eventless step into eotSent) and a supervisor's running state was parallel (intake × commits regions, a close held back by maxInflightEpochs an eventless step of intake.throttled); now a close is one step into flushing or eotSent, running rests in collecting, joining or committing, and a partition reader's acks, which ran in a commit region beside its reads (commit.idle/commit.acking), are decided in its context (it is in acking only while draining), and a sink session's attempt, a compound attempt state (attempt.writing, attempt.awaitingResults), is the top-level writing and awaitingResults; replay it with the Weir version that recorded it, or record the run again",
};

/** How message bodies (`Uint8Array`) are written: their length only, or the bytes in base64. */
export type TracePayloads = "omit" | "base64";

export interface TraceHeader {
  readonly k: "header";
  readonly format: typeof traceFormat;
  readonly startedAt: string;
  readonly payloads: TracePayloads;
  readonly pipeline?: string;
  /** Whether `ev`/`emit` lines were recorded. */
  readonly events: boolean;
}

/** Stimulus: a root actor started, with the input it was created with. */
export interface TraceStart {
  readonly k: "start";
  readonly t: number;
  readonly a: string;
  readonly machine: string;
  readonly input: unknown;
}

/** Expectation: a machine actor took an event and reached a state. */
export interface TraceSnap {
  readonly k: "snap";
  readonly a: string;
  /** The event's type. */
  readonly e: string;
  /** The state value after it. */
  readonly v: unknown;
  /** The snapshot status when not `active` (`done`, `error`, `stopped`). */
  readonly s?: string;
}

/** Expectation: actor `a` started its `n`-th `src` I/O actor, with this input (batches summarised). */
export interface TraceInvoke {
  readonly k: "invoke";
  readonly a: string;
  readonly src: string;
  readonly n: number;
  readonly input: unknown;
}

/**
 * An I/O actor's answer, delivered to the actor that invoked it: `xstate.done.actor.*` with
 * its output, `xstate.error.actor.*` with its error, or an event a callback actor sent back
 * (`sinkIo.*`). A stimulus, unless `sync`: then it was sent while the I/O actor was starting,
 * and the replay sends it at the same point.
 */
export interface TraceIo {
  readonly k: "io";
  readonly t: number;
  readonly a: string;
  readonly src: string;
  readonly n: number;
  readonly e: TraceEvent;
  readonly sync?: true;
  /** The actor it was sent to, when not its invoker `a` (a `readerIo` hands reads to the batcher, issue 12). */
  readonly to?: string;
}

/** Expectation: actor `a` set a timer (`after`, or a delayed raise/send) at logical time `t`. */
export interface TraceTimer {
  readonly k: "timer";
  readonly t: number;
  readonly a: string;
  /** The scheduled event's id; null when XState made up a random one. */
  readonly id: string | null;
  readonly delay: number;
  /** The type of the event it delivers. */
  readonly e: string;
}

/** Stimulus: a timer of actor `a` fired; `due` is its logical time (set time + delay). */
export interface TraceFire {
  readonly k: "fire";
  readonly t: number;
  readonly a: string;
  readonly id: string | null;
  readonly e: string;
  readonly due: number;
}

export interface TraceCancel {
  readonly k: "cancel";
  readonly a: string;
  readonly id: string;
}

/** Stimulus: an event sent to actor `a` from outside the actor system. */
export interface TraceSend {
  readonly k: "send";
  readonly t: number;
  readonly a: string;
  readonly e: TraceEvent;
}

/** Stimulus: root actor `a` was stopped from outside. */
export interface TraceStop {
  readonly k: "stop";
  readonly t: number;
  readonly a: string;
}

/** For people: an event between two machine actors, batches summarised. */
export interface TraceEv {
  readonly k: "ev";
  readonly a: string;
  readonly from?: string;
  readonly e: TraceEvent;
}

/** For people: an event a machine emitted to the runtime (`epochCommitted`, `protocolError` …). */
export interface TraceEmit {
  readonly k: "emit";
  readonly a: string;
  readonly e: TraceEvent;
}

export interface TraceEnd {
  readonly k: "end";
  readonly t: number;
  /** Records written, this one excluded. */
  readonly records: number;
  /** Records the recorder left out (always 0: the writer applies backpressure instead). */
  readonly elided: number;
  readonly [extra: string]: unknown;
}

export interface TraceEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

export type TraceRecord =
  | TraceHeader
  | TraceStart
  | TraceSnap
  | TraceInvoke
  | TraceIo
  | TraceTimer
  | TraceFire
  | TraceCancel
  | TraceSend
  | TraceStop
  | TraceEv
  | TraceEmit
  | TraceEnd;

export type TraceStimulus = TraceStart | TraceIo | TraceFire | TraceSend | TraceStop;

/** Whether the replay performs this record (rather than checking or ignoring it). */
export function isStimulus(record: TraceRecord): record is TraceStimulus {
  switch (record.k) {
    case "start":
    case "fire":
    case "send":
    case "stop":
      return true;
    case "io":
      return record.sync !== true;
    default:
      return false;
  }
}

/**
 * A value made JSON-safe for a trace: a `Uint8Array` becomes `{"$bytes": length}` (payloads
 * `omit`) or `{"$b64": "…"}`, an `Error` `{"$error": message, "name": …}`, a bigint
 * `{"$bigint": "…"}`. Batches are written by column, the hot path of every trace:
 *
 *   read entries  → {"$entries": {"offsets": […], "ids": […], "bytes": [length…]}}
 *   messages      → {"$messages": {"ids": […], "bytes": […]}}
 *
 * and a column that follows a pattern is written as the pattern: `{"$same": [value, n]}` (n
 * equal values), `{"$run": [first, n]}` (first, first+1, …) or `{"$run": [prefix, first, n]}`
 * (`in-0-7`, `in-0-8`, …: a text prefix and counting digits).
 *
 * With payloads `omit` a message keeps only what the machines look at — its id and its
 * value's length; `base64` adds `values`, `keys`, `eventTimes` and `headers` columns.
 */
export function encodeForTrace(value: unknown, payloads: TracePayloads): unknown {
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? { $bigint: value.toString() } : value;
  if (value instanceof Uint8Array) return encodeBytes(value, payloads);
  if (value instanceof Error) return { $error: value.message, name: value.name };
  if (Array.isArray(value)) {
    if (value.length > 0 && isReadEntry(value[0])) {
      const columns = entryColumns(value, payloads);
      if (columns !== undefined) return { $entries: columns };
    }
    if (value.length > 0 && isMessage(value[0]) && value.every(isMessage)) return { $messages: messageColumns(value, payloads) };
    return value.map((item) => encodeForTrace(item, payloads));
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined && typeof field !== "function") out[key] = encodeForTrace(field, payloads);
  }
  return out;
}

/** {@link encodeForTrace} as JSON text. */
export function encodeTraceJson(value: unknown, payloads: TracePayloads): string {
  return JSON.stringify(encodeForTrace(value, payloads));
}

interface MessageLike {
  readonly id: string;
  readonly keys?: readonly string[];
  readonly value: Uint8Array;
  readonly eventTime?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

function isMessage(item: unknown): item is MessageLike {
  return typeof item === "object" && item !== null && typeof (item as MessageLike).id === "string" && (item as MessageLike).value instanceof Uint8Array;
}

function isReadEntry(item: unknown): item is { offset: string; message: MessageLike } {
  return typeof item === "object" && item !== null && typeof (item as { offset?: unknown }).offset === "string" && isMessage((item as { message?: unknown }).message);
}

function encodeBytes(bytes: Uint8Array, payloads: TracePayloads): unknown {
  return payloads === "base64" ? { $b64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") } : { $bytes: bytes.byteLength };
}

function messageColumns(messages: readonly MessageLike[], payloads: TracePayloads): Record<string, unknown> {
  const ids = new Array<string>(messages.length);
  const bytes = new Array<number>(messages.length);
  for (let i = 0; i < messages.length; i += 1) {
    ids[i] = messages[i]!.id;
    bytes[i] = messages[i]!.value.byteLength;
  }
  if (payloads === "omit") return { ids: packColumn(ids), bytes: packColumn(bytes) };
  return {
    ids: packColumn(ids),
    bytes: packColumn(bytes),
    values: messages.map((message) => Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength).toString("base64")),
    keys: messages.map((message) => message.keys ?? []),
    eventTimes: messages.map((message) => message.eventTime ?? 0),
    headers: messages.map((message) => message.headers ?? {}),
  };
}

/** Columns of a batch of read entries, in one pass; undefined if an item is not an entry. */
function entryColumns(entries: readonly unknown[], payloads: TracePayloads): Record<string, unknown> | undefined {
  const n = entries.length;
  const offsets = new Array<string>(n);
  const messages = new Array<MessageLike>(n);
  for (let i = 0; i < n; i += 1) {
    const entry = entries[i] as { offset?: unknown; message?: MessageLike } | null;
    if (typeof entry?.offset !== "string" || !isMessage(entry.message)) return undefined;
    offsets[i] = entry.offset;
    messages[i] = entry.message;
  }
  return { offsets: packColumn(offsets), ...messageColumns(messages, payloads) };
}

const trailingDigits = /^(.*?)(0|[1-9]\d{0,14})$/;

/** A column as `$same` or `$run` when it follows that pattern (see {@link encodeForTrace}), else as it is. */
function packColumn(values: ReadonlyArray<string | number>): unknown {
  const n = values.length;
  if (n < 3) return values;
  const first = values[0]!;
  if (typeof first === "number") {
    let same = true;
    let run = true;
    for (let i = 1; i < n && (same || run); i += 1) {
      const value = values[i];
      if (value !== first) same = false;
      if (value !== first + i) run = false;
    }
    return same ? { $same: [first, n] } : run ? { $run: [first, n] } : values;
  }
  const match = trailingDigits.exec(first);
  if (match === null) return values;
  const prefix = match[1]!;
  const start = Number(match[2]);
  for (let i = 1; i < n; i += 1) {
    if (values[i] !== `${prefix}${start + i}`) return values;
  }
  return prefix === "" ? { $run: [String(start), n] } : { $run: [prefix, start, n] };
}

/** The inverse of {@link packColumn}. */
function unpackColumn(column: unknown): unknown[] {
  if (Array.isArray(column)) return column;
  if (column === null || typeof column !== "object") return [];
  const same = (column as { $same?: [unknown, number] }).$same;
  if (same !== undefined) return new Array<unknown>(same[1]).fill(same[0]);
  const run = (column as { $run?: unknown[] }).$run;
  if (run === undefined) return [];
  if (run.length === 3) {
    const [prefix, start, n] = run as [string, number, number];
    return Array.from({ length: n }, (_, i) => `${prefix}${start + i}`);
  }
  const [start, n] = run as [number | string, number];
  return typeof start === "number" ? Array.from({ length: n }, (_, i) => start + i) : Array.from({ length: n }, (_, i) => String(Number(start) + i));
}

function messagesFromColumns(columns: Record<string, unknown>): MessageLike[] {
  const ids = unpackColumn(columns["ids"]) as string[];
  const bytes = unpackColumn(columns["bytes"]) as number[];
  const values = columns["values"] as string[] | undefined;
  const keys = columns["keys"] as string[][] | undefined;
  const eventTimes = columns["eventTimes"] as number[] | undefined;
  const headers = columns["headers"] as Array<Record<string, string>> | undefined;
  return ids.map((id, i) => ({
    id,
    keys: keys?.[i] ?? [],
    value: values === undefined ? new Uint8Array(bytes[i] ?? 0) : new Uint8Array(Buffer.from(values[i] ?? "", "base64")),
    eventTime: eventTimes?.[i] ?? 0,
    headers: headers?.[i] ?? {},
  }));
}

/**
 * Turns the encodings of {@link encodeForTrace} back into values: bytes (zeros of the recorded
 * length when omitted), errors, bigints, column batches, and `{"$ok": [ids]}` result lists.
 */
export function reviveTraceValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) value[i] = reviveTraceValue(value[i]);
    return value;
  }
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  if (typeof record["$bytes"] === "number") return new Uint8Array(record["$bytes"]);
  if (typeof record["$b64"] === "string") return new Uint8Array(Buffer.from(record["$b64"], "base64"));
  if (typeof record["$error"] === "string") {
    const error = new Error(record["$error"]);
    if (typeof record["name"] === "string") error.name = record["name"];
    return error;
  }
  if (typeof record["$bigint"] === "string") return BigInt(record["$bigint"]);
  if (isColumns(record["$entries"])) {
    const columns = record["$entries"];
    const offsets = unpackColumn(columns["offsets"]) as string[];
    return messagesFromColumns(columns).map((message, i) => ({ offset: offsets[i]!, message }));
  }
  if (isColumns(record["$messages"])) return messagesFromColumns(record["$messages"]);
  if (Array.isArray(record["$ok"])) return (record["$ok"] as string[]).map((id) => ({ id, status: "ok" }));
  for (const key of Object.keys(record)) record[key] = reviveTraceValue(record[key]);
  return record;
}

function isColumns(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses one line of a trace. Values a replay feeds to actors (I/O answers, inputs, external
 * events) get their encoded bytes and errors revived; the rest stays as written.
 */
export function parseTraceLine(line: string): TraceRecord {
  const record = JSON.parse(line) as TraceRecord;
  if (typeof record !== "object" || record === null || typeof (record as { k?: unknown }).k !== "string") {
    throw new Error(`not a trace record: ${line.slice(0, 80)}`);
  }
  const mutable = record as { e?: unknown; input?: unknown };
  switch (record.k) {
    case "io":
    case "send":
      mutable.e = reviveTraceValue(mutable.e);
      break;
    case "start":
      mutable.input = reviveTraceValue(mutable.input);
      break;
    default:
      break;
  }
  return record;
}

const batchKeys: ReadonlySet<string> = new Set(["messages", "entries", "results", "items", "offsets"]);

/** Arrays longer than this are summarised whatever their name. */
const longArray = 16;

/**
 * A small, JSON-safe picture of an event or input for people: batches (arrays named like one,
 * or longer than 16) become `{"$batch": n, "first": id, "last": id}`, bytes their length;
 * nesting is cut at depth 3. Its cost does not grow with the size of a batch.
 */
export function summarizeForTrace(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return { $bytes: value.byteLength };
  if (value instanceof Error) return { $error: value.message };
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? String(value) : value;
  if (Array.isArray(value)) {
    if (value.length > longArray) return summarizeBatch(value);
    return depth >= 3 ? { $batch: value.length } : value.map((item) => summarizeForTrace(item, depth + 1));
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (typeof field === "function" || field === undefined) continue;
    if (Array.isArray(field) && batchKeys.has(key)) out[key] = summarizeBatch(field);
    else out[key] = depth >= 3 ? "…" : summarizeForTrace(field, depth + 1);
  }
  return out;
}

function summarizeBatch(batch: readonly unknown[]): unknown {
  if (batch.length === 0) return { $batch: 0 };
  return { $batch: batch.length, first: idOf(batch[0]), last: idOf(batch[batch.length - 1]) };
}

function idOf(item: unknown): unknown {
  if (typeof item === "string" || typeof item === "number") return item;
  if (item === null || typeof item !== "object") return null;
  const record = item as { id?: unknown; offset?: unknown; message?: { id?: unknown } };
  return record.id ?? record.message?.id ?? record.offset ?? null;
}
