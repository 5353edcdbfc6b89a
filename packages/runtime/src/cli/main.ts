/**
 * The `weir` executable (bin/weir.js imports it). All logic lives in runCli, which tests run
 * in-process; this file only binds it to the process. It sets `process.exitCode` rather than
 * calling `process.exit()`, so output still buffered for a pipe is flushed before Node exits.
 */
import { commands } from "./commands/index.js";
import { runCli } from "./run-cli.js";

const io = { stdout: process.stdout, stderr: process.stderr, isTTY: process.stdout.isTTY === true };
process.exitCode = await runCli(process.argv.slice(2), io, commands);
