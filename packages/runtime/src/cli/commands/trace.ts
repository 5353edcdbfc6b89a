import { existsSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { ObservabilityError } from "../../observability/observability-error.js";
import { readTraceFile } from "../../observability/read-trace-file.js";
import { replayTrace } from "../../observability/trace-replay.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";

/**
 * `weir trace replay <file>`: re-runs the machines of a recorded trace (`weir run --trace`) on a
 * simulated clock, answering every I/O actor from the trace, and checks that every actor makes
 * the same transitions. Exit 0: the same; 1: diverged (the diff names the actor and the step);
 * 2: the file is not a trace.
 */
export const traceCommand: Command = {
  name: "trace",
  synopsis: "replay <file> [--json]",
  summary: "Replay a recorded trace and check every actor makes the same transitions",
  help: [
    "Subcommands:",
    "  replay <file>   replay a trace written by 'weir run --trace <file>'",
    "Options:",
    "  --json          print the result as one JSON line",
    "Exit code: 0 the replay matched, 1 it diverged (the first differing step is printed), 2 bad input.",
    "The format is described in docs/traces.md.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("trace", argv, { json: { type: "boolean", default: false } });
    const [sub, file, ...rest] = positionals;
    if (sub !== "replay") throw new UsageError(`trace: unknown subcommand '${sub ?? ""}'; usage: weir trace replay <file>`);
    if (file === undefined || rest.length > 0) throw new UsageError("trace: give exactly one file; usage: weir trace replay <file>");
    if (!existsSync(file)) throw new UsageError(`trace: no file '${file}'`);
    let result;
    try {
      result = await replayTrace(readTraceFile(file));
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      const error = new ObservabilityError("TRACE_UNREADABLE", `cannot replay ${file}: ${message}`, { cause });
      // A file that is not a trace is the user's input being wrong (exit 2), like a bad spec.
      throw new UsageError(error.message, { cause: error });
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      io.stdout.write(`✓ ${file}: the replay matched — ${result.stimuli} stimuli, ${result.checked} steps of ${result.actors} actors checked\n`);
    } else {
      io.stdout.write(`✗ ${file}: ${result.divergence!.diff}\n`);
    }
    return result.ok ? 0 : 1;
  },
};
