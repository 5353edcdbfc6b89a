import { WeirError } from "@weir/actors";
import { UsageError } from "../errors.js";
import { didYouMean } from "../spec/suggest.js";
import type { CliIO, Command, LazyCommand } from "./command.js";
import { weirVersion } from "./version.js";

// The user's input was wrong (exit 2), as opposed to a failure while running (exit 1).
const USER_ERROR_CODES: ReadonlySet<string> = new Set(["USAGE", "SPEC_INVALID", "SPEC_UNREADABLE"]);

const HELP_FLAGS: ReadonlySet<string> = new Set(["--help", "-h"]);
const VERSION_FLAGS: ReadonlySet<string> = new Set(["--version", "-v"]);
const TOP_LEVEL_OPTIONS = ["--help", "--version"];

/** A command as registered: loaded already (tests) or on first use (commands/index.ts). */
type CommandRef = Command | LazyCommand;
const load = (ref: CommandRef): Promise<Command> => ("load" in ref ? ref.load() : Promise.resolve(ref));

/**
 * The `weir` dispatcher: picks the command named by `argv[0]` and returns the exit code.
 * Never throws: a WeirError becomes one `weir: <message>` line on stderr.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(["validate", "demo.yaml"], { stdout, stderr, isTTY: false }, commands);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIO, commands: readonly CommandRef[]): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === undefined) {
      io.stderr.write(usage(commands));
      return 2;
    }
    if (HELP_FLAGS.has(name) || name === "help") return await help(rest[0], io, commands);
    if (VERSION_FLAGS.has(name)) {
      io.stdout.write(`weir ${weirVersion()}\n`);
      return 0;
    }
    const ref = commands.find((candidate) => candidate.name === name);
    if (ref === undefined) throw unknownCommand(name, commands);
    // `--help` anywhere before `--` shows the command's help instead of running it.
    const beforeSeparator = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
    if (beforeSeparator.some((arg) => HELP_FLAGS.has(arg))) return await help(ref.name, io, commands);
    const command = await load(ref);
    return await command.run(rest, io);
  } catch (error) {
    return reportError(error, io);
  }
}

function unknownCommand(name: string, commands: readonly CommandRef[]): UsageError {
  const option = name.startsWith("-");
  const suggestion = didYouMean(name, option ? TOP_LEVEL_OPTIONS : commands.map((candidate) => candidate.name));
  const what = option ? "option" : "command";
  const next = option ? "run 'weir --help' for the commands, and 'weir <command> --help' for their options" : "run 'weir --help' for the commands";
  return new UsageError(`unknown ${what} '${name}'${suggestion === undefined ? "" : ` (${suggestion})`}; ${next}`);
}

async function help(name: string | undefined, io: CliIO, commands: readonly CommandRef[]): Promise<number> {
  if (name === undefined) {
    io.stdout.write(usage(commands));
    return 0;
  }
  const ref = commands.find((candidate) => candidate.name === name);
  if (ref === undefined) throw new UsageError(`no help for unknown command '${name}'; run 'weir --help'`);
  const command = await load(ref);
  const synopsis = command.synopsis === undefined ? "" : ` ${command.synopsis}`;
  const more = command.help === undefined ? "" : `\n${command.help}\n`;
  io.stdout.write(`Usage: weir ${command.name}${synopsis}\n\n${command.summary}\n${more}`);
  return 0;
}

/** The top-level usage, listing the registered commands. */
export function usage(commands: readonly CommandRef[]): string {
  // Each command on its line with its synopsis, the summary indented below: synopses vary too
  // much in length (run's is long) for one aligned column.
  const lines = commands.flatMap((command) => [`  ${command.name}${command.synopsis === undefined ? "" : ` ${command.synopsis}`}`, `      ${command.summary}`]);
  return [
    "Usage: weir <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'weir <command> --help' for a command's options, 'weir --version' for the version.",
    "",
  ].join("\n");
}

function reportError(error: unknown, io: CliIO): number {
  if (error instanceof WeirError) {
    io.stderr.write(`weir: ${error.message}\n`);
    return USER_ERROR_CODES.has(error.code) ? 2 : 1;
  }
  // Not ours, so a bug: say so, and keep the stack behind a flag rather than on every user.
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`weir: unexpected error: ${message}\n`);
  if (process.env["WEIR_DEBUG"] !== undefined && error instanceof Error && error.stack !== undefined) {
    io.stderr.write(`${error.stack}\n`);
  } else {
    io.stderr.write("weir: set WEIR_DEBUG=1 to see the stack trace\n");
  }
  return 1;
}
