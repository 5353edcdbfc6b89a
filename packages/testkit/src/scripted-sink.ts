/**
 * A sink double that answers like a remote sink on a per-partition stream: results in random
 * order with random latency, failures on purpose, and — when told — the protocol violations
 * Weir must survive (early, late or cross-partition end-of-results; duplicate, unknown or
 * missing ids; silence).
 *
 * Frames are delivered to whichever attempt is listening on the target partition *when the
 * frame arrives* — or, when none is, to the next one that listens — as on a long-lived stream:
 * that is how a late end-of-results could leak into the next epoch, and how numaflow#2516's
 * cross-partition EOT happened.
 */
import { fromSinkAttempts, type Message, type SinkIoEvent, type SinkResult, type SinkWriterLogic } from "@weir/actors";
import { realClock, type TestClock } from "./clock.js";
import { DeliveryLog } from "./delivery-log.js";
import { createRandom } from "./seeded-random.js";

export type Misbehaviour =
  /** End-of-results after half of the results; the rest follow it. */
  | "earlyEndOfResults"
  /** All results, then the end-of-results only after `lateByMs` (past the result timeout). */
  | "lateEndOfResults"
  /** One result sent twice. */
  | "duplicateResult"
  /** One extra result for an id that is not in the attempt. */
  | "unknownId"
  /** One result left out, end-of-results sent anyway. */
  | "missingId"
  /** The end-of-results goes to the next partition's stream (the #2516 shape). */
  | "crossPartition"
  /** No frame at all. */
  | "silent";

export interface Latency {
  readonly min: number;
  readonly max: number;
}

export interface AttemptInfo {
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
  readonly ids: readonly string[];
  /** When the attempt started, on the sink's `now` (simulated ms under the harness). */
  readonly atMs: number;
}

export interface ScriptedSinkOptions {
  readonly seed?: number;
  readonly clock?: TestClock;
  /** The time `attempts[].atMs` records; defaults to `performance.now` (monotonic: gaps between attempts are durations). */
  readonly now?: () => number;
  /** Each result frame is delayed by a draw from this range (so frames arrive out of order). */
  readonly latencyMs?: Latency | ((partition: number) => Latency);
  /** Results of an attempt are split over this many frames. */
  readonly chunks?: number;
  /** Share of messages that fail on their first attempt. */
  readonly failFirstAttempt?: number;
  /** Messages that fail on every attempt (or, using `attempt`, on every attempt up to some number). */
  readonly alwaysFails?: (message: Message, attempt: number) => boolean;
  /** Messages the sink answers with `fallback`. */
  readonly answersFallback?: (message: Message) => boolean;
  /** A protocol violation for an attempt, or undefined to behave. */
  readonly misbehave?: (attempt: AttemptInfo) => Misbehaviour | undefined;
  readonly lateByMs?: number;
  readonly partitions?: number;
  readonly log?: DeliveryLog;
}

export interface ScriptedSink {
  readonly sinkWriter: SinkWriterLogic;
  readonly log: DeliveryLog;
  readonly attempts: AttemptInfo[];
  readonly misbehaviours: Array<AttemptInfo & { readonly misbehaviour: Misbehaviour }>;
}

type Listener = (event: SinkIoEvent) => void;

export function createScriptedSink(options: ScriptedSinkOptions = {}): ScriptedSink {
  const random = createRandom(options.seed ?? 1);
  const clock = options.clock ?? realClock;
  const now = options.now ?? (() => performance.now());
  const log = options.log ?? new DeliveryLog();
  const latencyOf = (partition: number): Latency => {
    const latency = options.latencyMs ?? { min: 0, max: 0 };
    return typeof latency === "function" ? latency(partition) : latency;
  };
  const listeners = new Map<number, Listener>();
  const undelivered = new Map<number, SinkIoEvent[]>();
  const attempts: AttemptInfo[] = [];
  const misbehaviours: ScriptedSink["misbehaviours"] = [];

  const deliver = (target: number, event: SinkIoEvent) => {
    const listener = listeners.get(target);
    if (listener === undefined) {
      // Nobody reads the stream right now: the frame waits for the next reader.
      undelivered.set(target, [...(undelivered.get(target) ?? []), event]);
      return;
    }
    if (event.type === "sinkIo.results") {
      for (const result of event.results) {
        log.record({ kind: "result", id: result.id, partition: event.partition, epoch: event.epoch, status: result.status });
      }
    }
    listener(event);
  };

  const answer = (message: Message, attempt: number): SinkResult => {
    if (options.answersFallback?.(message) === true) return { id: message.id, status: "fallback", reason: "scripted fallback" };
    if (options.alwaysFails?.(message, attempt) === true) return { id: message.id, status: "failure", error: "scripted permanent failure" };
    if (attempt === 1 && options.failFirstAttempt !== undefined && random.chance(options.failFirstAttempt)) {
      return { id: message.id, status: "failure", error: "scripted first-attempt failure" };
    }
    return { id: message.id, status: "ok" };
  };

  const sinkWriter = fromSinkAttempts((input, sendBack) => {
    const { partition, epoch, attempt } = input;
    const info: AttemptInfo = { partition, epoch, attempt, ids: input.messages.map((m) => m.id), atMs: now() };
    attempts.push(info);
    const listener: Listener = (event) => sendBack(event);
    listeners.set(partition, listener);
    const frame = { partition, epoch, attempt };
    const latency = latencyOf(partition);
    const waiting = undelivered.get(partition) ?? [];
    undelivered.delete(partition);
    for (const event of waiting) clock.setTimeout(() => deliver(partition, event), 0);
    const at = (delayMs: number, target: number, event: SinkIoEvent) => clock.setTimeout(() => deliver(target, event), delayMs);

    sendBack({ type: "sinkIo.sent", ...frame } satisfies SinkIoEvent);
    const misbehaviour = options.misbehave?.(info);
    if (misbehaviour !== undefined) misbehaviours.push({ ...info, misbehaviour });
    if (misbehaviour === "silent") return () => unlisten(partition, listener);

    let results = random.shuffle(input.messages).map((message) => answer(message, attempt));
    if (misbehaviour === "missingId" && results.length > 0) results = results.slice(1);
    if (misbehaviour === "duplicateResult" && results.length > 0) results = [...results, results[0]!];
    if (misbehaviour === "unknownId") results = [...results, { id: `unknown-${partition}-${epoch}`, status: "ok" }];

    const chunkCount = Math.max(1, Math.min(options.chunks ?? 4, results.length));
    const chunkSize = Math.ceil(results.length / chunkCount);
    let lastDelay = 0;
    const early = misbehaviour === "earlyEndOfResults";
    const half = Math.floor(results.length / 2);
    for (let i = 0; i < results.length; i += chunkSize) {
      // Early end-of-results: the second half of the results follows the end-of-results.
      const afterEnd = early && i >= half;
      const delay = random.int(latency.min, latency.max) + (afterEnd ? latency.max + 2 : 0);
      lastDelay = Math.max(lastDelay, delay);
      at(delay, partition, { type: "sinkIo.results", ...frame, results: results.slice(i, i + chunkSize) });
    }
    const endOfResults: SinkIoEvent = { type: "sinkIo.endOfResults", ...frame };
    if (early) {
      at(latency.max + 1, partition, endOfResults);
    } else if (misbehaviour === "lateEndOfResults") {
      at(lastDelay + (options.lateByMs ?? 60_000), partition, endOfResults);
    } else if (misbehaviour === "crossPartition") {
      at(lastDelay + 1, (partition + 1) % (options.partitions ?? 1), endOfResults);
    } else {
      at(lastDelay + 1, partition, endOfResults);
    }
    return () => unlisten(partition, listener);
  });

  const unlisten = (partition: number, listener: Listener) => {
    if (listeners.get(partition) === listener) listeners.delete(partition);
  };

  return { sinkWriter, log, attempts, misbehaviours };
}
