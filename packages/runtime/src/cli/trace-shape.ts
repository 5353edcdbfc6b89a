/**
 * What `weir trace replay` learns about a trace file's shape while the replay streams it: a
 * header first, stimuli, an `end` record last. An empty or header-only file is no trace (the
 * replay would "match" nothing); a file without its end record was cut short (a killed run, a
 * full disk), and a difference at its cut is no divergence of a machine.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isStimulus, type TraceRecord } from "../observability/trace-format.js";

export interface TraceShape {
  /** Records read (a replay that diverged stops reading early). */
  records: number;
  header: boolean;
  stimuli: number;
}

/** Passes `records` through, filling `shape` as they go by. */
export async function* observeShape(records: AsyncIterable<TraceRecord>, shape: TraceShape): AsyncGenerator<TraceRecord> {
  for await (const record of records) {
    shape.records += 1;
    if (record.k === "header" && shape.records === 1) shape.header = true;
    else if (isStimulus(record)) shape.stimuli += 1;
    yield record;
  }
}

/**
 * Whether the file's last line is an `end` record. Read from the file's tail, not from the
 * replay's stream: a replay that diverged stops reading before the end.
 */
export function endsWithEndRecord(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 256 * 1024);
    const tail = Buffer.alloc(length);
    readSync(fd, tail, 0, length, size - length);
    const last = tail.toString("utf8").trimEnd().split("\n").at(-1) ?? "";
    try {
      return (JSON.parse(last) as { k?: unknown }).k === "end";
    } catch {
      return false; // a line cut in the middle
    }
  } finally {
    closeSync(fd);
  }
}

/** Why the file is not a trace at all, or undefined when it is one. */
export function notATrace(shape: TraceShape): string | undefined {
  if (shape.records === 0) return "the file is empty";
  if (!shape.header) return "its first line is not a weir.trace header (write one with 'weir run --trace <file>')";
  if (shape.stimuli === 0) return "it holds a header and no recorded step (the run was stopped before any actor started)";
  return undefined;
}
