/**
 * The "sink" of source and map vertices (DESIGN §2.1): maps each message (udf or identity),
 * picks the next vertices by tag conditions and a partition by key hash, writes the results to
 * their buffers, and answers `ok` for a message only once all its results are written.
 *
 *   messages ──map──▶ results ──edges (tags)──▶ target vertex ──keys──▶ partition ──▶ buffer.write
 *
 * A udf error, a bad result (not an array of `{ value }`) or a udf timeout fails that message
 * alone (it goes down the retry path, like a throw); a buffer error fails the attempt. A full
 * buffer is waited on (`retryUntilSuccess`) or the rest discarded and counted (`discardLatest`).
 * Every failure, drop and dedup is counted and goes to the failure log (aggregated per vertex):
 * nothing leaves without a count and a line.
 */
import type { Message, SinkAnswer, SinkContext, SinkResult } from "@weir/actors";
import type { AnsweringSinkFunction } from "../flow/delayed-sink.js";
import { ALL_OK, okResults, withAllOkForm, type AllOk, type AllOkSinkFunction } from "../connectors/all-ok-answer.js";
import { BufferError, type PartitionedBuffer } from "../buffer/index.js";
import { bufferErrors } from "../buffer/buffer-error.js";
import type { FailureLog } from "../observability/failure-log.js";
import type { Logger } from "../observability/logger.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import type { OnFull } from "../spec/pipeline-spec.js";
import type { BatchMapAnswer, MapContext, MapResult, MapStage, RetryLaterAnswer } from "../udf/map-function.js";
import type { PartitionChooser } from "./partition-choice.js";
import { matchesTags, type TagCondition } from "./tag-condition.js";
import { mapInKeyOrder } from "../flow/ordered-map.js";
import type { KeyOrderOptions } from "../flow/ordered-sink.js";
import { isHeldBackReason } from "../flow/ordered-waves.js";

export interface ForwardTarget {
  readonly vertex: string;
  readonly buffer: PartitionedBuffer;
  readonly onFull: OnFull;
  readonly condition?: TagCondition;
  readonly choosePartition: PartitionChooser;
  /** Told how many messages `discardLatest` dropped for a full partition. */
  readonly onDiscard?: (partition: number, count: number) => void;
}

export interface ForwarderOptions {
  readonly vertex: string;
  /** The map function; absent on source vertices, whose messages pass unchanged. */
  readonly stage?: MapStage;
  /** `cat` passes messages on as they are, without calling anything per message. */
  readonly passThrough?: boolean;
  readonly targets: readonly ForwardTarget[];
  readonly counts: VertexCounts;
  /** Longest a udf call may take before its message fails. */
  readonly udfTimeoutMs: number;
  readonly logger: Logger;
  /** Where udf failures, drops and dedups are counted for the aggregated log lines. */
  readonly failures: FailureLog;
  /** `ordered` (issue #15): the udf is called in per-key waves (flow/ordered-map.ts). */
  readonly ordered?: KeyOrderOptions;
}

type Mapped =
  | { readonly outputs: readonly Message[]; readonly tags: ReadonlyArray<readonly string[] | undefined> }
  | { readonly error: string }
  // The udf answered retryLater: nothing is written; the answer goes on for flow/delayed-sink.ts to park.
  | { readonly laterMs: number };

const encoder = new TextEncoder();

/**
 * The forwarder as a sink function: one answer per message. It carries an all-ok form
 * (connectors/all-ok-answer.ts) that answers `ALL_OK` when every message went on — what a source
 * and `cat` always answer — which `sinkConnectorFromFunction` drives the session through.
 */
export function createForwarder(options: ForwarderOptions): AnsweringSinkFunction {
  const lean = createAllOkForwarder(options);
  const forward: AnsweringSinkFunction = async (messages, context) => {
    const answer = await lean(messages, context);
    return answer === ALL_OK ? okResults(messages) : answer;
  };
  return withAllOkForm(forward, lean);
}

/** The forwarder answering `ALL_OK` when every message went on (see `createForwarder`). */
function createAllOkForwarder(options: ForwarderOptions): AllOkSinkFunction {
  const forward = forwarderFunction(options);
  return async (messages, context) => {
    try {
      return await forward(messages, context);
    } catch (error) {
      // The attempt fails as a whole (a buffer error): the session retries it; the log says why.
      const text = error instanceof Error ? error.message : String(error);
      options.failures.record(options.vertex, "forwardFailed", messages.length, text, context.attempt);
      throw error;
    }
  };
}

function forwarderFunction(options: ForwarderOptions): AllOkSinkFunction {
  const { targets } = options;
  return async (messages, context) => {
    if (options.stage === undefined || options.passThrough === true) return forwardUnchanged(options, messages, context);
    const mapped = options.ordered === undefined ? await mapAll(options, messages, context) : await mapInKeyOrder(options.ordered, messages, context, (wave) => mapAll(options, wave, context));
    logUdfFailures(options, mapped, context.attempt);
    // Route: per target, per partition, the messages to write, in input order.
    const groups = targets.map(() => new Map<number, Message[]>());
    for (const result of mapped) {
      if (!("outputs" in result)) continue;
      for (let i = 0; i < result.outputs.length; i += 1) {
        const output = result.outputs[i]!;
        let routed = false;
        for (let t = 0; t < targets.length; t += 1) {
          const target = targets[t]!;
          if (!matchesTags(target.condition, result.tags[i])) continue;
          routed = true;
          const partition = target.choosePartition(output.keys, output.id);
          const group = groups[t]!;
          const list = group.get(partition);
          if (list === undefined) group.set(partition, [output]);
          else list.push(output);
        }
        if (!routed) dropUnrouted(options, 1, result.tags[i]); // no edge's condition matched: dropped and counted
      }
    }
    const writes: Promise<void>[] = [];
    groups.forEach((group, t) => {
      for (const [partition, list] of group) writes.push(writeToPartition(options, targets[t]!, partition, list, context));
    });
    await Promise.all(writes);
    return mapped.map((result, i): SinkAnswer =>
      "error" in result
        ? { id: messages[i]!.id, status: "failure", error: result.error }
        : "laterMs" in result
          ? { id: messages[i]!.id, status: "retryLater", delayMs: result.laterMs }
          : { id: messages[i]!.id, status: "ok" },
    );
  };
}

/**
 * The hot path of sources and `cat`: messages go on as they are, routed by edges without
 * conditions (a message without tags matches `not` conditions only).
 */
async function forwardUnchanged(options: ForwarderOptions, messages: readonly Message[], context: SinkContext): Promise<AllOk> {
  const { targets } = options;
  const writes: Promise<void>[] = [];
  let routed = false;
  for (const target of targets) {
    if (!matchesTags(target.condition, undefined)) continue;
    routed = true;
    writePartitioned(options, target, messages, context, writes);
  }
  if (!routed) dropUnrouted(options, messages.length, undefined);
  await Promise.all(writes);
  return ALL_OK;
}

/** Partition of each message of the batch being split (reused: `writePartitioned` never awaits while it holds it). */
let chosenScratch = new Int32Array(1_024);

/**
 * Starts one write per partition of `target` that `messages` go to, each with its messages in
 * input order (into `writes`). Two passes instead of a list grown per message in a Map: the
 * partitions are chosen into a scratch array and counted, then each list is made at its size. When
 * every message goes to one partition (one partition, or one key), the batch is written as it is.
 */
function writePartitioned(options: ForwarderOptions, target: ForwardTarget, messages: readonly Message[], attempt: Attempt, writes: Promise<void>[]): void {
  const n = messages.length;
  if (n === 0) return;
  if (chosenScratch.length < n) chosenScratch = new Int32Array(n);
  const chosen = chosenScratch;
  const sizes: number[] = [];
  let single = true;
  for (let i = 0; i < n; i += 1) {
    const message = messages[i]!;
    const partition = target.choosePartition(message.keys, message.id);
    // What the buffer would answer for it, before any write starts (the lists below index by it).
    if (!(Number.isInteger(partition) && partition >= 0 && partition < target.buffer.partitions)) throw bufferErrors.partitionOutOfRange(target.buffer.name, "write", partition, target.buffer.partitions);
    chosen[i] = partition;
    if (sizes[partition] === undefined) {
      sizes[partition] = 1;
      if (i > 0) single = false;
    } else sizes[partition] += 1;
  }
  if (single) {
    writes.push(writeToPartition(options, target, chosen[0]!, messages, attempt));
    return;
  }
  const lists: Message[][] = [];
  const filled: number[] = [];
  for (let p = 0; p < sizes.length; p += 1) {
    if (sizes[p] === undefined) continue;
    lists[p] = new Array<Message>(sizes[p]!);
    filled[p] = 0;
  }
  for (let i = 0; i < n; i += 1) {
    const partition = chosen[i]!;
    lists[partition]![filled[partition]!++] = messages[i]!;
  }
  for (let p = 0; p < lists.length; p += 1) {
    const list = lists[p];
    if (list !== undefined) writes.push(writeToPartition(options, target, p, list, attempt));
  }
}

async function mapAll(options: ForwarderOptions, messages: readonly Message[], context: SinkContext): Promise<Mapped[]> {
  const stage = options.stage!;
  const mapContext: MapContext = {
    vertex: options.vertex,
    partition: context.partition,
    epoch: context.epoch,
    attempt: context.attempt,
    signal: context.signal,
  };
  if (stage.kind === "batch") return mapBatch(options, stage.map, messages, mapContext);
  const pending: Array<Mapped | Promise<Mapped>> = messages.map((message) => {
    try {
      const returned = stage.map(message, mapContext);
      return isPromise(returned)
        ? withTimeout(returned, options.udfTimeoutMs).then((results) => toMapped(message, results), (error: unknown) => udfFailure(message, error))
        : toMapped(message, returned);
    } catch (error) {
      return udfFailure(message, error);
    }
  });
  return pending.some(isPromise) ? Promise.all(pending) : (pending as Mapped[]);
}

async function mapBatch(
  options: ForwarderOptions,
  map: Extract<MapStage, { kind: "batch" }>["map"],
  messages: readonly Message[],
  context: MapContext,
): Promise<Mapped[]> {
  let answers: Awaited<ReturnType<typeof map>>;
  try {
    answers = await withTimeout(Promise.resolve(map(messages, context)), options.udfTimeoutMs);
  } catch (error) {
    return messages.map((message) => udfFailure(message, error));
  }
  if (!Array.isArray(answers)) {
    const error = `the batch udf returned ${describe(answers)}; expected an array of { id, results } (one per message)`;
    return messages.map(() => ({ error }));
  }
  const given = new Set(messages.map((message) => message.id));
  const byId = new Map<string, readonly MapResult[] | { readonly error: string } | { readonly laterMs: number }>();
  const unknown: string[] = [];
  const twice = new Set<string>();
  for (const answer of answers) {
    if (typeof answer !== "object" || answer === null) {
      unknown.push(String(answer));
      continue;
    }
    if (!given.has(answer.id)) unknown.push(String(answer.id));
    else if (byId.has(answer.id)) twice.add(answer.id);
    else byId.set(answer.id, batchAnswer(answer));
  }
  if (unknown.length > 0 || twice.size > 0) {
    // Answers the udf owes nobody are dropped; an id answered twice is failed (and retried): which answer holds is unknowable.
    options.logger.warn("batch udf broke its contract (one answer per given id)", {
      vertex: options.vertex,
      ...(unknown.length === 0 ? {} : { unknownIds: unknown.slice(0, 5), unknownCount: unknown.length }),
      ...(twice.size === 0 ? {} : { answeredTwice: [...twice].slice(0, 5), answeredTwiceCount: twice.size }),
    });
  }
  return messages.map((message) => {
    if (twice.has(message.id)) return { error: `the batch udf answered twice for id '${message.id}'; answer once per message` };
    const results = byId.get(message.id);
    if (results === undefined) {
      return { error: `the batch udf returned no results for id '${message.id}'; return { id, results: [] } to filter a message out` };
    }
    // `{ id, error }`: the udf failed that message on purpose (a process map does on protocol errors).
    if ("error" in results) return { error: results.error };
    return "laterMs" in results ? results : toMapped(message, results);
  });
}

/** One batch answer as the forwarder keeps it: results, an error, or a retryLater delay. */
function batchAnswer(answer: BatchMapAnswer): readonly MapResult[] | { readonly error: string } | { readonly laterMs: number } {
  if ("error" in answer && typeof answer.error === "string") return { error: answer.error };
  if ((answer as { status?: unknown }).status === "retryLater") return { laterMs: (answer as { delayMs: number }).delayMs };
  return (answer as { results: readonly MapResult[] }).results;
}

function toMapped(message: Message, results: unknown): Mapped {
  // `{ status: "retryLater", delayMs }`: the delay is checked where the message is parked.
  if ((results as { status?: unknown } | null)?.status === "retryLater" && !Array.isArray(results)) return { laterMs: (results as RetryLaterAnswer).delayMs };
  if (!Array.isArray(results)) {
    return { error: `the udf returned ${describe(results)} for '${message.id}'; expected an array of { value, keys?, tags? }` };
  }
  const outputs: Message[] = [];
  const tags: Array<readonly string[] | undefined> = [];
  for (let index = 0; index < results.length; index += 1) {
    const result = results[index] as Partial<MapResult> | null;
    const value = result?.value;
    if (!(value instanceof Uint8Array) && typeof value !== "string") {
      return { error: `result ${index} of '${message.id}' has no value: expected { value: Uint8Array | string, keys?, tags? }` };
    }
    outputs.push({
      // One result keeps the id; several get stable suffixes, so a redelivery makes the same ids.
      id: results.length === 1 ? message.id : `${message.id}.${index}`,
      keys: result!.keys ?? message.keys,
      value: typeof value === "string" ? encoder.encode(value) : value,
      eventTime: message.eventTime,
      headers: message.headers,
    });
    tags.push(result!.tags);
  }
  return { outputs, tags };
}

function udfFailure(message: Message, error: unknown): Mapped {
  const text = error instanceof Error ? error.message : String(error);
  return { error: `udf threw for '${message.id}': ${text}` };
}

/** One failure log entry per failed message of the attempt (aggregated there, not one line each). */
function logUdfFailures(options: ForwarderOptions, mapped: readonly Mapped[], attempt: number): void {
  for (const result of mapped) {
    // A message held back behind its key's failure (ordered) is no udf failure of its own.
    if ("error" in result && !isHeldBackReason(result.error)) options.failures.record(options.vertex, "udfFailed", 1, result.error, attempt);
  }
}

function dropUnrouted(options: ForwarderOptions, count: number, tags: readonly string[] | undefined): void {
  options.counts.dropped += count;
  const what = tags === undefined || tags.length === 0 ? "no tags" : `tags [${tags.join(", ")}]`;
  options.failures.record(options.vertex, "dropped", count, `no edge's condition matched a result with ${what}`);
}

/**
 * The attempt a write belongs to. Its `signal` is read only when a write has to wait for room: the
 * sink writer makes an attempt's AbortController only when it is read (issue 12: one per epoch
 * otherwise, for a check that matters only under backpressure).
 */
type Attempt = Pick<SinkContext, "signal">;

async function writeToPartition(
  options: ForwarderOptions,
  target: ForwardTarget,
  partition: number,
  messages: readonly Message[],
  attempt: Attempt,
): Promise<void> {
  const { counts, failures, vertex } = options;
  let done = 0;
  let waitMs = 1;
  for (;;) {
    let outcome: Awaited<ReturnType<PartitionedBuffer["write"]>>;
    try {
      outcome = await target.buffer.write(partition, done === 0 ? messages : messages.slice(done));
    } catch (error) {
      if (!(error instanceof BufferError && error.code === "BUFFER_STREAM_ENDED")) throw error;
      // Every writer of the target declared end of stream, this vertex among them: another worker
      // of this vertex finished it, which it does only once no one else holds an entry of its
      // input (docs/workers.md). So these messages were claimed from this worker and written by
      // that one (a worker woken after a long SIGSTOP, issue #10 item 8): already written, not dropped.
      const left = messages.length - done;
      counts.deduped += left;
      failures.record(vertex, "deduped", left, `${target.vertex}[${partition}] ended: another worker of '${vertex}' finished these messages and wrote them`);
      return;
    }
    const { written } = outcome;
    const deduped = outcome.deduped ?? 0;
    done += written;
    counts.written += written - deduped;
    if (deduped > 0) {
      counts.deduped += deduped;
      failures.record(vertex, "deduped", deduped, `ids already in ${target.vertex}[${partition}] within its dedup window (a redelivery, or an id used twice)`);
    }
    if (done >= messages.length) return;
    if (target.onFull === "discardLatest") {
      counts.dropped += messages.length - done;
      failures.record(vertex, "dropped", messages.length - done, `${target.vertex}[${partition}] was full (onFull: discardLatest)`);
      target.onDiscard?.(partition, messages.length - done);
      return;
    }
    if (attempt.signal.aborted) throw new Error(`gave up waiting for room in ${target.vertex}[${partition}]: the attempt was stopped`);
    waitMs = written > 0 ? 1 : Math.min(50, waitMs * 2);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (!Number.isFinite(ms) || ms >= 2_147_483_647) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
