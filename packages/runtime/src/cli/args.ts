import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.js";
import { didYouMean } from "../spec/suggest.js";

/**
 * `parseArgs` in strict mode, its errors said in Weir's words: the command, the option, the
 * closest valid option, and where to read more — never Node's parseArgs text.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandArgs("run", argv, { json: { type: "boolean" } });
 * ```
 */
type CommandOptions = NonNullable<ParseArgsConfig["options"]>;
type CommandArgsConfig<O extends CommandOptions> = { args: string[]; options: O; allowPositionals: true; strict: true };
export type CommandArgs<O extends CommandOptions> = ReturnType<typeof parseArgs<CommandArgsConfig<O>>>;

export function parseCommandArgs<const O extends CommandOptions>(
  command: string,
  argv: readonly string[],
  options: O,
): CommandArgs<O> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (cause) {
    throw new UsageError(`${command}: ${describeParseError(cause, argv, options)}; run 'weir ${command} --help' for its options`, { cause });
  }
}

function describeParseError(cause: unknown, argv: readonly string[], options: CommandOptions): string {
  const code = (cause as { code?: unknown }).code;
  const flags = Object.entries(options).flatMap(([name, option]) => [`--${name}`, ...(option.short === undefined ? [] : [`-${option.short}`])]);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const given = unknownArg(argv, flags) ?? "?";
    const suggestion = didYouMean(given.split("=")[0]!, flags);
    return `unknown option '${given}'${suggestion === undefined ? "" : ` (${suggestion})`}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = Object.keys(options).find((option) => (cause as Error).message.includes(`--${option}`));
    if (name !== undefined && options[name]!.type === "string") return `--${name} needs a value: --${name} <value> or --${name}=<value>`;
    if (name !== undefined) return `--${name} takes no value; write --${name} alone`;
  }
  return cause instanceof Error ? cause.message : String(cause);
}

/** The first argument (before `--`) that looks like an option and is none of `flags`. */
function unknownArg(argv: readonly string[], flags: readonly string[]): string | undefined {
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  return argv.slice(0, end).find((arg) => arg.startsWith("-") && arg !== "-" && !flags.includes(arg.split("=")[0]!));
}
