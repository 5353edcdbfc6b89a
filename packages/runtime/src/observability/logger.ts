/**
 * Structured logs: one JSON object per line with a level, a message and the labels that say
 * where it happened (`pipeline`, `vertex`, `partition`). Machines never log; the runtime logs
 * what their events and I/O report.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface JsonLoggerOptions {
  readonly level?: LogLevel;
  readonly write?: (line: string) => void;
}

export function createJsonLogger(options: JsonLoggerOptions = {}, bound: LogFields = {}): Logger {
  const threshold = rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log = (level: Exclude<LogLevel, "silent">) => (message: string, fields: LogFields = {}) => {
    if (rank[level] < threshold) return;
    write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message, ...bound, ...fields })}\n`);
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createJsonLogger(options, { ...bound, ...fields }),
  };
}

export const silentLogger: Logger = createJsonLogger({ level: "silent" });
