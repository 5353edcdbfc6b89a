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
export interface Command {
  readonly name: string;
  /** One line for `weir --help`. */
  readonly summary: string;
  /** Arguments shown after the name in usage, e.g. `<spec> [--json]`. */
  readonly synopsis?: string;
  /** More text for `weir <name> --help`: options, examples. */
  readonly help?: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}
