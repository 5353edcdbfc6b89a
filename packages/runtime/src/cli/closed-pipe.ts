/**
 * `weir dlq list … | head -1`: once the reader of stdout is gone, the next write fails with
 * EPIPE, which Node raises as an unhandled 'error' event — a stack trace for a pipe that did
 * exactly what the user asked. A closed stdout means nobody wants more output: end the command
 * quietly, as `cat` and `grep` do (exit 0 rather than their SIGPIPE death, which Node masks).
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") exit(0);
    else throw error;
  });
}
