/**
 * Trace recording and replay for tests (DESIGN §5): record a run in memory with `recordTrace`,
 * replay it with `replayTrace`, and check a changed machine against a recorded run. The engine
 * lives in `@weir/runtime` (so `weir trace replay` can use it); these are its test-side doors.
 */
import type { AnyStateMachine, InspectionEvent, Observer } from "xstate";
import {
  createTraceRecorder,
  parseTraceLines,
  readTraceFile,
  replayTrace as replayRecords,
  type ReplayOptions,
  type ReplayResult,
  type TracePayloads,
  type TraceRecord,
} from "@weir/runtime";

export interface RecordTraceOptions {
  readonly payloads?: TracePayloads;
  /** Also record events between actors and emitted events (for people). Default true. */
  readonly events?: boolean;
  readonly pipeline?: string;
}

/** A trace being recorded in memory. */
export interface RecordedTrace {
  /** Pass to `createPipeline(spec, { inspect })` or `createActor(machine, { inspect })`. */
  readonly inspect: Observer<InspectionEvent>;
  /** The JSON lines so far (each without its trailing newline). */
  readonly lines: readonly string[];
  /** Ends the recording (writes the `end` record). */
  end(): void;
  /** The lines as records, ready for `replayTrace`. */
  records(): TraceRecord[];
}

/**
 * Records a trace in memory.
 *
 * @example
 * ```ts
 * const trace = recordTrace();
 * await createPipeline(spec, { inspect: trace.inspect }).start();
 * trace.end();
 * expect((await replayTrace(trace)).ok).toBe(true);
 * ```
 */
export function recordTrace(options: RecordTraceOptions = {}): RecordedTrace {
  const lines: string[] = [];
  const recorder = createTraceRecorder({
    write: (line) => lines.push(line.endsWith("\n") ? line.slice(0, -1) : line),
    ...(options.payloads === undefined ? {} : { payloads: options.payloads }),
    ...(options.events === undefined ? {} : { events: options.events }),
    ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
  });
  return {
    inspect: recorder.inspect,
    lines,
    end: () => recorder.end(),
    records: () => parseTraceLines(lines),
  };
}

/** A trace to replay: a file path, JSON lines, parsed records, or a `recordTrace` recording. */
export type TraceInput = string | readonly string[] | RecordedTrace | Iterable<TraceRecord> | AsyncIterable<TraceRecord>;

/**
 * Re-runs the machines of a trace on a simulated clock, answering every I/O actor from the
 * trace, and reports the first step where an actor did something else (`result.divergence.diff`).
 *
 * @param machines replacements by machine id (`supervisor`, `partitionReader`, `batcher`,
 *   `sinkSession`), e.g. a machine changed with `.provide()`.
 */
export function replayTrace(
  trace: TraceInput,
  machines?: Readonly<Record<string, AnyStateMachine>>,
  options: Omit<ReplayOptions, "machines"> = {},
): Promise<ReplayResult> {
  return replayRecords(toRecords(trace), { ...options, ...(machines === undefined ? {} : { machines }) });
}

/** Thrown by {@link assertTraceReplays}; its message is the readable diff. */
export class TraceDivergenceError extends Error {
  constructor(readonly result: ReplayResult) {
    super(result.divergence?.diff ?? "the trace did not replay");
    this.name = "TraceDivergenceError";
  }
}

/** Like {@link replayTrace}, but throws a {@link TraceDivergenceError} carrying the diff. */
export async function assertTraceReplays(
  trace: TraceInput,
  machines?: Readonly<Record<string, AnyStateMachine>>,
  options: Omit<ReplayOptions, "machines"> = {},
): Promise<ReplayResult> {
  const result = await replayTrace(trace, machines, options);
  if (!result.ok) throw new TraceDivergenceError(result);
  return result;
}

function toRecords(trace: TraceInput): Iterable<TraceRecord> | AsyncIterable<TraceRecord> {
  if (typeof trace === "string") return readTraceFile(trace);
  if (isRecordedTrace(trace)) return trace.records();
  if (Array.isArray(trace) && (trace.length === 0 || typeof trace[0] === "string")) return parseTraceLines(trace as readonly string[]);
  return trace as Iterable<TraceRecord> | AsyncIterable<TraceRecord>;
}

function isRecordedTrace(trace: TraceInput): trace is RecordedTrace {
  return typeof trace === "object" && trace !== null && "records" in trace && typeof (trace as RecordedTrace).records === "function";
}
