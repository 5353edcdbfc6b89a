/**
 * Reads a trace file line by line, so a replay of a long run holds one step in memory, not the
 * whole file.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseTraceLine, type TraceRecord } from "./trace-format.js";

/**
 * The records of a `.jsonl` trace, in order; blank lines are skipped.
 *
 * @throws Error naming the line when a line is not a trace record.
 *
 * @example
 * ```ts
 * const result = await replayTrace(readTraceFile("run.trace.jsonl"));
 * ```
 */
export async function* readTraceFile(file: string): AsyncGenerator<TraceRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === "") continue;
    try {
      yield parseTraceLine(line);
    } catch (cause) {
      throw new Error(`${file}:${number}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }
}

/** The records of a trace held in memory (the lines of a file, or what `recordTrace` kept). */
export function parseTraceLines(lines: Iterable<string>): TraceRecord[] {
  const records: TraceRecord[] = [];
  let number = 0;
  for (const line of lines) {
    number += 1;
    if (line.trim() === "") continue;
    try {
      records.push(parseTraceLine(line));
    } catch (cause) {
      throw new Error(`trace line ${number}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }
  return records;
}
