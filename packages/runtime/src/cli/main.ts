/**
 * The `weir` executable: bin/weir.js runs this file bundled (scripts/bundle.mjs, dist/cli-bundle/),
 * where each `import()` below is a chunk of its own. All logic lives in runCli, which tests run
 * in-process; this file only binds it to the process.
 *
 * Signals first: `weir run` keeps SIGINT/SIGTERM from the first line, before the commands (and
 * through them zod, yaml, the user's modules, Redis clients) are loaded, so a signal during
 * start-up ends the run cleanly instead of killing it with no output. Everything else is loaded
 * with `import()`, so `weir --help` loads no more than it prints.
 *
 * Once runCli returns, the command is over and everything Weir opened is closed. The process
 * then exits as soon as stdout and stderr are flushed, rather than when Node's event loop runs
 * dry: a udf module's own handles (a database client, a timer, a promise that never settles after
 * its call timed out) must not keep a finished `weir run` alive.
 */
import { holdSignals } from "./signals.js";

const argv = process.argv.slice(2);
if (argv[0] === "run") holdSignals();
// `pnpm weir …` runs the root package's script in the repository root; pnpm keeps the directory
// the user typed the command in as INIT_CWD. Paths the user typed are relative to that.
const typedIn = process.env["INIT_CWD"];
if (process.env["npm_lifecycle_event"] === "weir" && typedIn !== undefined && typedIn !== "") process.chdir(typedIn);

const { endQuietlyOnClosedPipe } = await import("./closed-pipe.js");
endQuietlyOnClosedPipe(process.stdout);
const { runCli } = await import("./run-cli.js");
const { commands } = await import("./commands/index.js");
const io = { stdout: process.stdout, stderr: process.stderr, isTTY: process.stdout.isTTY === true };
const code = await runCli(argv, io, commands);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write("", () => resolve());
  });
}
