import { loadSpec } from "../../spec/load-spec.js";
import { UsageError } from "../../errors.js";
import { createJsonLogger, type LogLevel } from "../../observability/logger.js";
import { combineInspectors } from "../../observability/combine-inspectors.js";
import { startRunObservers, type RunObservers } from "../../observability/run-observers.js";
import type { RunSummary } from "../../observability/vertex-counters.js";
import type { LoadedSpec } from "../../spec/load-spec.js";
import type { Logger } from "../../observability/logger.js";
import { createPipeline, type EventTimeUpdate } from "../../pipeline/create-pipeline.js";
import { parseDuration } from "../../spec/duration.js";
import { parseCommandArgs } from "../args.js";
import type { CliIO, Command } from "../command.js";
import { startProgressLine } from "../progress.js";
import { watchRunSignals } from "../run-signals.js";
import { formatSummary } from "../summary-table.js";
import { catalog } from "./catalog.js";
import { elapsedSince, monotonicNow } from "../../time/monotonic-clock.js";

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

/**
 * `--inspect 9331`: parseArgs would take 9331 as a second spec (a bare `--inspect` is the default
 * port), so say what to write instead.
 */
function rejectSpacedInspectPort(argv: readonly string[]): void {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  const at = argv.slice(0, end).findIndex((arg, i) => arg === "--inspect" && /^\d+$/.test(argv[i + 1] ?? ""));
  if (at >= 0) {
    const port = argv[at + 1]!;
    throw new UsageError(`run: write --inspect=${port}, with '=': a bare --inspect takes the default port (${DEFAULT_INSPECT_PORT}), so '${port}' would be read as a spec`);
  }
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
  ...catalog.run,
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
    "Signals: the first SIGINT/SIGTERM drains — in-flight work commits, status \"drained\", exit 0 (also before the",
    "pipeline has started: nothing is read); a second stops at once (status \"failed\", exit 1).",
    "Exit code: 0 completed or drained, 1 failed (the reason on stderr), 2 bad arguments or spec.",
  ].join("\n"),
  async run(argv, io) {
    rejectSpacedInspectPort(argv);
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

    const startedAt = monotonicNow();
    const note = (line: string) => io.stderr.write(`weir: ${line}\n`);
    let observers: RunObservers | undefined;
    let summary: RunSummary | undefined;
    let runUi: RunUi | undefined;
    const signals = watchRunSignals(startedAt, (line) => io.stderr.write(`\n${line}\n`), () => observers?.interrupt());
    try {
      const loaded = await loadSpec(file, { allowModulesOutside: values["allow-modules-outside"], noExec: values["no-exec"] });
      const logger = createJsonLogger({ level, write: (line) => io.stderr.write(line) });
      // The dashboard, and on Redis the worker's registration for `weir ui`: loaded only when used.
      runUi =
        uiPort !== undefined || loaded.spec.spec.buffer.type === "redis"
          ? await (await import("../../ui/run-ui-flags.js")).startRunUiFromFlags(loaded.spec, { port: uiPort, host: values["ui-host"], token: values["ui-token"], vertices: values.vertices, logger, note })
          : undefined;
      observers = await startRunObservers({
        pipeline: loaded.spec.metadata.name,
        ...(inspectPort === undefined ? {} : { inspectPort }),
        ...(values.trace === undefined ? {} : { traceFile: values.trace, tracePayloads: values["trace-payloads"] ? "base64" : "omit" }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
        ...(metricsLingerMs === undefined ? {} : { metricsLingerMs }),
        note,
      });
      const pipeline = createRunPipeline(loaded, values, io, logger, observers, runUi);
      if (values["inspect-wait"] && signals.count() === 0) await observers.waitForViewer(signals.aborted);
      if (signals.count() > 0) {
        // Nothing started, nothing was read: a drain with nothing to finish.
        note(`stopped by a signal before the pipeline started; nothing was read`);
        summary = { status: "drained", pipeline: pipeline.name, durationMs: elapsedSince(startedAt), vertices: pipeline.counts() };
        return report(summary, io, values.json);
      }
      signals.attach(pipeline);
      const progress = io.isTTY && !values.json ? startProgressLine(io.stderr, () => pipeline.counts()) : undefined;
      try {
        summary = await Promise.race([pipeline.start(), signals.stopped]);
        progress?.stop();
        return report(summary, io, values.json);
      } finally {
        progress?.stop();
      }
    } finally {
      // After the summary: the trace's end record holds it, and its notes follow the table.
      await Promise.allSettled([observers?.finish(summary), runUi?.close()]);
      signals.release();
    }
  },
};

/** Both the metrics and the dashboard hear each watermark and open-window update. */
function combineEventTime(...observers: ReadonlyArray<(vertex: string, partition: number, update: EventTimeUpdate) => void>) {
  return (vertex: string, partition: number, update: EventTimeUpdate) => {
    for (const observe of observers) observe(vertex, partition, update);
  };
}

type RunValues = { readonly json: boolean; readonly vertices?: string | undefined; readonly replica?: string | undefined };

type RunUi = Awaited<ReturnType<(typeof import("../../ui/run-ui-flags.js"))["startRunUiFromFlags"]>>;

function createRunPipeline(loaded: LoadedSpec, values: RunValues, io: CliIO, logger: Logger, observers: RunObservers, runUi: RunUi | undefined) {
  const inspect = combineInspectors(observers.inspect, runUi?.inspect);
  const pipeline = createPipeline(loaded, {
    ...workerOptions(loaded.spec.metadata.name, values.vertices, values.replica),
    logger,
    logStream: values.json ? io.stderr : io.stdout,
    ...(inspect === undefined ? {} : { inspect }),
    ...(runUi === undefined ? {} : { onClaimed: runUi.claimed }),
    onEventTime: runUi?.eventTime === undefined ? observers.eventTime : combineEventTime(observers.eventTime, runUi.eventTime),
  });
  observers.attach(pipeline);
  runUi?.attach(pipeline);
  return pipeline;
}

/** Prints the summary (a table, or one JSON line) and picks the exit code: a drain is no failure. */
function report(summary: RunSummary, io: CliIO, json: boolean): number {
  io.stdout.write(json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
  if (summary.status === "failed") io.stderr.write(`weir: ${summary.reason ?? "the run failed"}\n`);
  else if (summary.reason !== undefined) io.stderr.write(`weir: ${summary.reason}\n`);
  return summary.status === "failed" ? 1 : 0;
}
