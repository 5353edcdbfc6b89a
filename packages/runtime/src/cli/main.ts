/**
 * The `weir` executable (bin/weir.js imports it). All logic lives in runCli, which tests run
 * in-process; this file only binds it to the process.
 *
 * Once runCli returns, the command is over and everything Weir opened is closed. The process
 * then exits as soon as stdout and stderr are flushed, rather than when Node's event loop runs
 * dry: a udf module's own handles (a database client, a timer, a promise that never settles after
 * its call timed out) must not keep a finished `weir run` alive.
 */
import { commands } from "./commands/index.js";
import { runCli } from "./run-cli.js";

const io = { stdout: process.stdout, stderr: process.stderr, isTTY: process.stdout.isTTY === true };
const code = await runCli(process.argv.slice(2), io, commands);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write("", () => resolve());
  });
}
