import { loadSpec } from "../../spec/load-spec.js";
import { UsageError } from "../../errors.js";
import { createJsonLogger, type LogLevel } from "../../observability/logger.js";
import { combineInspectors } from "../../observability/combine-inspectors.js";
import { startRunObservers } from "../../observability/run-observers.js";
import { createPipeline } from "../../pipeline/create-pipeline.js";
import { parseDuration } from "../../spec/duration.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { startProgressLine } from "../progress.js";
import { formatSummary } from "../summary-table.js";

const levels: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/** The inspector's port when `--inspect` has no `=<port>`. */
export const DEFAULT_INSPECT_PORT = 9331;

/**
 * `--inspect` takes its port only as `--inspect=<port>` (as Node's does): a bare `--inspect`
 * means the default port, so `weir run --inspect spec.yaml` never reads the spec as a port.
 * parseArgs has no optional values, so a bare one is rewritten before parsing.
 */
export function normalizeInspectFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, i) => ((end < 0 || i < end) && arg === "--inspect" ? `--inspect=${DEFAULT_INSPECT_PORT}` : arg));
}

/** The dashboard's port when `--ui` has no `=<port>` (and `weir ui`'s without `--port`). */
export const DEFAULT_UI_PORT = 9333;

/** `--ui` takes its port only as `--ui=<port>`, like `--inspect`. */
export function normalizeUiFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, i) => ((end < 0 || i < end) && arg === "--ui" ? `--ui=${DEFAULT_UI_PORT}` : arg));
}

/** `--vertices a,b` and `--replica N`: which vertices this process runs, and its consumer name. */
function workerOptions(pipeline: string, vertices: string | undefined, replica: string | undefined) {
  const names = vertices?.split(",").map((name) => name.trim()).filter((name) => name.length > 0);
  if (vertices !== undefined && (names === undefined || names.length === 0)) throw new UsageError("run: --vertices takes a comma-separated list of vertex names");
  if (replica !== undefined && !/^[A-Za-z0-9_.-]+$/.test(replica)) throw new UsageError(`run: --replica takes letters, digits, '.', '_' or '-'; got '${replica}'`);
  return {
    ...(names === undefined ? {} : { vertices: names }),
    ...(replica === undefined ? {} : { consumer: `${pipeline}-${replica}` }),
  };
}

function portOption(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`run: ${flag} takes a port from 0 to 65535 (0 picks a free one); got '${value}'`);
  return port;
}

/**
 * `weir run <spec>`: runs a pipeline until a bounded source is fully processed and committed
 * (exit 0), a fatal error (exit 1 with the reason), or a signal: the first SIGINT/SIGTERM
 * drains — in-flight epochs finish and commit — the second stops at once.
 */
export const runCommand: Command = {
  name: "run",
  synopsis: "<spec> [--json] [--log-level <level>] [--inspect[=<port>]] [--ui[=<port>]] [--trace <file>] [--metrics-port <port>] [--vertices <a,b>] [--replica <name>] [--allow-modules-outside] [--no-exec]",
  summary: "Run a pipeline; progress on a terminal, a summary at the end",
  help: [
    "Options:",
    "  --json               print the summary as one JSON line on stdout (log sinks then write to stderr)",
    "  --log-level <level>  debug | info | warn | error | silent (default: warn); logs are JSON lines on stderr",
    `  --inspect[=<port>]   serve the Stately inspector on 127.0.0.1 (default port ${DEFAULT_INSPECT_PORT}, 0 = any free port) and`,
    "                       stream the live actors to it; the URL to open is printed on stderr",
    "  --inspect-wait       with --inspect: start the pipeline only once a browser has opened the inspector",
    "  --trace <file>       record a replayable trace (JSON lines) to <file>; replay it with 'weir trace replay <file>'",
    "  --trace-payloads     with --trace: keep message bodies (base64) instead of their length",
    "  --metrics-port <n>   serve Prometheus metrics at http://127.0.0.1:<n>/metrics (0 = any free port)",
    "  --metrics-linger <d> keep serving metrics for <d> (e.g. 15s) after the run ends, for a last scrape",
    `  --ui[=<port>]        serve Weir's dashboard on 127.0.0.1 (default port ${DEFAULT_UI_PORT}, 0 = any free port); the URL is printed`,
    "  --ui-host <address>  with --ui: listen on this address instead; anywhere but loopback the page asks for a token",
    "  --ui-token <token>   with --ui-host: the token (default: a random one, printed on stderr)",
    "  --vertices <a,b>     run only these vertices: a worker process of a larger deployment (needs a redis buffer)",
    "  --replica <name>     this worker's stable name: a restarted worker re-reads its own pending entries",
    "  --allow-modules-outside  accept module, process and jsonl paths outside the spec's directory",
    "  --no-exec            refuse process vertices and modules: for a spec you do not trust (built-ins only)",
    "Signals: the first SIGINT/SIGTERM drains (in-flight work commits, exit 0); a second stops at once (exit 1).",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("run", normalizeUiFlag(normalizeInspectFlag(argv)), {
      json: { type: "boolean", default: false },
      "log-level": { type: "string", default: "warn" },
      inspect: { type: "string" },
      "inspect-wait": { type: "boolean", default: false },
      trace: { type: "string" },
      "trace-payloads": { type: "boolean", default: false },
      "metrics-port": { type: "string" },
      "metrics-linger": { type: "string" },
      ui: { type: "string" },
      "ui-host": { type: "string" },
      "ui-token": { type: "string" },
      vertices: { type: "string" },
      replica: { type: "string" },
      "allow-modules-outside": { type: "boolean", default: false },
      "no-exec": { type: "boolean", default: false },
    });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError("run: give exactly one spec; usage: weir run <spec> [--json]");
    const level = values["log-level"] as LogLevel;
    if (!levels.includes(level)) throw new UsageError(`run: --log-level must be one of ${levels.join(", ")}; got '${level}'`);

    const inspectPort = portOption("--inspect", values.inspect);
    const metricsPort = portOption("--metrics-port", values["metrics-port"]);
    if (values["inspect-wait"] && inspectPort === undefined) throw new UsageError("run: --inspect-wait needs --inspect");
    if (values["trace-payloads"] && values.trace === undefined) throw new UsageError("run: --trace-payloads needs --trace <file>");
    const lingerText = values["metrics-linger"];
    const metricsLingerMs = lingerText === undefined ? undefined : parseDuration(lingerText);
    if (lingerText !== undefined && (metricsLingerMs === undefined || metricsPort === undefined)) {
      throw new UsageError(`run: --metrics-linger takes a duration such as "15s" and needs --metrics-port; got '${lingerText}'`);
    }

    const uiPort = portOption("--ui", values.ui);
    if ((values["ui-host"] !== undefined || values["ui-token"] !== undefined) && uiPort === undefined) throw new UsageError("run: --ui-host and --ui-token need --ui");

    const loaded = await loadSpec(file, { allowModulesOutside: values["allow-modules-outside"], noExec: values["no-exec"] });
    const logger = createJsonLogger({ level, write: (line) => io.stderr.write(line) });
    // The dashboard, and on Redis the worker's registration for `weir ui`: loaded only when used.
    const runUi =
      uiPort !== undefined || loaded.spec.spec.buffer.type === "redis"
        ? await (await import("../../ui/run-ui-flags.js")).startRunUiFromFlags(loaded.spec, { port: uiPort, host: values["ui-host"], token: values["ui-token"], vertices: values.vertices, logger, note: (line) => io.stderr.write(`weir: ${line}\n`) })
        : undefined;
    const observers = await startRunObservers({
      pipeline: loaded.spec.metadata.name,
      ...(inspectPort === undefined ? {} : { inspectPort }),
      ...(values.trace === undefined ? {} : { traceFile: values.trace, tracePayloads: values["trace-payloads"] ? "base64" : "omit" }),
      ...(metricsPort === undefined ? {} : { metricsPort }),
      ...(metricsLingerMs === undefined ? {} : { metricsLingerMs }),
      note: (line) => io.stderr.write(`weir: ${line}\n`),
    }).catch(async (error: unknown) => {
      await runUi?.close();
      throw error;
    });
    const inspect = combineInspectors(observers.inspect, runUi?.inspect);
    let pipeline: ReturnType<typeof createPipeline>;
    try {
      pipeline = createPipeline(loaded, {
        ...workerOptions(loaded.spec.metadata.name, values.vertices, values.replica),
        logger,
        logStream: values.json ? io.stderr : io.stdout,
        ...(inspect === undefined ? {} : { inspect }),
        ...(runUi === undefined ? {} : { onClaimed: runUi.claimed }),
      });
    } catch (error) {
      await Promise.allSettled([observers.finish(undefined), runUi?.close()]); // the servers would keep the process alive
      throw error;
    }
    observers.attach(pipeline);
    runUi?.attach(pipeline);

    let signals = 0;
    const waiting = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      observers.interrupt();
      if (!waiting.signal.aborted) {
        waiting.abort();
      } else if (signals === 1) {
        io.stderr.write(`\n${signal}: draining — in-flight epochs finish and commit (send it again to stop at once)\n`);
        pipeline.drain();
      } else {
        pipeline.stop(`stopped by a second ${signal}; unacked input stays pending`);
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let progress: ReturnType<typeof startProgressLine> | undefined;
    let finished = false;
    try {
      if (values["inspect-wait"]) {
        await observers.waitForViewer(waiting.signal);
        if (signals > 0) {
          io.stderr.write("weir: stopped before the pipeline started\n");
          return 1;
        }
      }
      waiting.abort();
      progress = io.isTTY && !values.json ? startProgressLine(io.stderr, () => pipeline.counts()) : undefined;
      const summary = await pipeline.start();
      progress?.stop();
      if (values.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
      else io.stdout.write(formatSummary(summary));
      if (summary.status !== "completed") io.stderr.write(`weir: ${summary.reason ?? "the run failed"}\n`);
      finished = true;
      await Promise.allSettled([observers.finish(summary), runUi?.close()]);
      return summary.status === "completed" ? 0 : 1;
    } finally {
      progress?.stop();
      if (!finished) await Promise.allSettled([observers.finish(undefined), runUi?.close()]);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
