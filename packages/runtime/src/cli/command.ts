import type { CommandSummary } from "./commands/catalog.js";

/** What a command writes to, so tests can run commands in-process. */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal: progress and colour only then. */
  readonly isTTY: boolean;
}

/**
 * One `weir <name>` subcommand. `run` gets the arguments after the command name and returns
 * the exit code; it throws a UsageError for bad arguments and lets WeirErrors propagate, which
 * the dispatcher prints as one line.
 */
export interface Command extends CommandSummary {
  /** More text for `weir <name> --help`: options, examples. */
  readonly help?: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/** A command known by its summary until it is needed: `load` imports its module. */
export interface LazyCommand extends CommandSummary {
  load(): Promise<Command>;
}
