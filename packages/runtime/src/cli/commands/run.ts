import { loadSpec } from "../../spec/load-spec.js";
import { UsageError } from "../../errors.js";
import { createJsonLogger, type LogLevel } from "../../observability/logger.js";
import { createPipeline } from "../../pipeline/create-pipeline.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { startProgressLine } from "../progress.js";
import { formatSummary } from "../summary-table.js";

const levels: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/**
 * `weir run <spec>`: runs a pipeline until a bounded source is fully processed and committed
 * (exit 0), a fatal error (exit 1 with the reason), or a signal: the first SIGINT/SIGTERM
 * drains — in-flight epochs finish and commit — the second stops at once.
 */
export const runCommand: Command = {
  name: "run",
  synopsis: "<spec> [--json] [--log-level <level>]",
  summary: "Run a pipeline; progress on a terminal, a summary at the end",
  help: [
    "Options:",
    "  --json               print the summary as one JSON line on stdout (log sinks then write to stderr)",
    "  --log-level <level>  debug | info | warn | error | silent (default: warn); logs are JSON lines on stderr",
    "Signals: the first SIGINT/SIGTERM drains (in-flight work commits, exit 0); a second stops at once (exit 1).",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("run", argv, {
      json: { type: "boolean", default: false },
      "log-level": { type: "string", default: "warn" },
    });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError("run: give exactly one spec; usage: weir run <spec> [--json]");
    const level = values["log-level"] as LogLevel;
    if (!levels.includes(level)) throw new UsageError(`run: --log-level must be one of ${levels.join(", ")}; got '${level}'`);

    const loaded = await loadSpec(file);
    const logger = createJsonLogger({ level, write: (line) => io.stderr.write(line) });
    const pipeline = createPipeline(loaded, { logger, logStream: values.json ? io.stderr : io.stdout });

    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        io.stderr.write(`\n${signal}: draining — in-flight epochs finish and commit (send it again to stop at once)\n`);
        pipeline.drain();
      } else {
        pipeline.stop(`stopped by a second ${signal}; unacked input stays pending`);
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const progress = io.isTTY && !values.json ? startProgressLine(io.stderr, () => pipeline.counts()) : undefined;
    try {
      const summary = await pipeline.start();
      progress?.stop();
      if (values.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
      else io.stdout.write(formatSummary(summary));
      if (summary.status !== "completed") io.stderr.write(`weir: ${summary.reason ?? "the run failed"}\n`);
      return summary.status === "completed" ? 0 : 1;
    } finally {
      progress?.stop();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
