import { existsSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { ObservabilityError } from "../../observability/observability-error.js";
import { readTraceFile } from "../../observability/read-trace-file.js";
import { replayTrace, type ReplayResult } from "../../observability/trace-replay.js";
import { parseCommandArgs } from "../args.js";
import { endsWithEndRecord, notATrace, observeShape, type TraceShape } from "../trace-shape.js";
import type { CliIO, Command } from "../command.js";
import { catalog } from "./catalog.js";

/**
 * `weir trace replay <file>`: re-runs the machines of a recorded trace (`weir run --trace`) on a
 * simulated clock, answering every I/O actor from the trace, and checks that every actor makes
 * the same transitions. Exit 0: the same; 1: diverged (the diff names the actor and the step);
 * 2: the file is not a trace.
 */
export const traceCommand: Command = {
  ...catalog.trace,
  help: [
    "Subcommands:",
    "  replay <file>   replay a trace written by 'weir run --trace <file>'",
    "Options:",
    "  --json          print the result as one JSON line",
    "Exit code: 0 the replay matched, 1 it diverged (the first differing step is printed), 2 not a trace (empty,",
    "no header, no recorded step) or incomplete (no end record: the run was killed or the file cut short).",
    "The format is described in docs/traces.md.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("trace", argv, { json: { type: "boolean", default: false } });
    const [sub, file, ...rest] = positionals;
    if (sub !== "replay") throw new UsageError(`trace: unknown subcommand '${sub ?? ""}'; usage: weir trace replay <file>`);
    if (file === undefined || rest.length > 0) throw new UsageError("trace: give exactly one file; usage: weir trace replay <file>");
    if (!existsSync(file)) throw new UsageError(`trace: no file '${file}'`);
    let result;
    const shape: TraceShape = { records: 0, header: false, stimuli: 0 };
    try {
      result = await replayTrace(observeShape(readTraceFile(file), shape));
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      const error = new ObservabilityError("TRACE_UNREADABLE", `cannot replay ${file}: ${message}`, { cause });
      // A file that is not a trace is the user's input being wrong (exit 2), like a bad spec.
      throw new UsageError(error.message, { cause: error });
    }
    const notTrace = notATrace(shape);
    if (notTrace !== undefined) throw new UsageError(`trace: ${file} is not a trace: ${notTrace}`);
    if (!endsWithEndRecord(file)) return incomplete(file, shape, result, values.json, io);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...result, complete: true })}\n`);
    } else if (result.ok) {
      io.stdout.write(`✓ ${file}: the replay matched — ${result.stimuli} stimuli, ${result.checked} steps of ${result.actors} actors checked\n`);
    } else {
      io.stdout.write(`✗ ${file}: ${result.divergence!.diff}\n`);
    }
    return result.ok ? 0 : 1;
  },
};

/**
 * A trace without its end record: the run was killed or the file cut short, so the last step's
 * expectations may be missing — a difference there says nothing about the machines. Exit 2, like
 * other input that cannot be judged; what the part before the cut showed is printed too.
 */
function incomplete(file: string, shape: TraceShape, result: ReplayResult, json: boolean, io: CliIO): number {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...result, complete: false })}\n`);
    return 2;
  }
  const part = result.ok
    ? `its ${result.stimuli} stimuli replayed the same up to the cut`
    : `the replay differs at its step ${result.stimuli} of ${shape.stimuli} — a difference near the cut may be the cut itself:\n${result.divergence!.diff}`;
  io.stderr.write(`✗ ${file}: incomplete trace — its last line is not the end record (the run was killed or the file was cut short); ${part}\n`);
  return 2;
}
