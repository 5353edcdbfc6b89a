import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.js";

/**
 * `parseArgs` in strict mode, its errors turned into UsageErrors that name the command.
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
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new UsageError(`${command}: ${message}; run 'weir ${command} --help'`, { cause });
  }
}
