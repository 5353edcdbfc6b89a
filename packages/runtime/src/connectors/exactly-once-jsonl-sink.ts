/**
 * The `jsonl` sink with `exactlyOnce: true`: a transactional sink (DESIGN I6). Each epoch's lines
 * reach the file in one append at the epoch's commit, and a line whose id the file already holds
 * is never written again — so after any crash, once the sink has opened the file again, it holds
 * whole epochs only and every id at most once; redelivery fills in the rest.
 *
 *   write(p, e, messages) ──stage──▶ staged[e]: id → line          answers ok at once
 *   supervisor: every partition done with e ──▶ commit(e):
 *       lines of staged[e] whose id is not in the file ──one append──▶ file ──fdatasync──▶
 *       commit record { length } (write tmp, fsync, rename) ──▶ ids += the epoch's ids
 *   ──▶ the readers ack e's input (only after commit(e) resolved)
 *
 *   open: file longer than the record says ──▶ truncate it to the record's length (a commit that
 *         never finished: its input was not acked and comes again); no record ──▶ drop a trailing
 *         partial line; then load every id of the file into memory.
 *
 * Why a commit record beside the file: one `write` of an epoch's bytes is one syscall, but Linux
 * may cut a large write to a regular file short when a fatal signal arrives between pages
 * (mm/filemap.c, generic_perform_write), and the page cache reaches the disk in any order. The
 * record's length, replaced by an atomic rename only after the data is fsynced, says where the
 * last complete commit ends.
 *
 * Crash windows: before commit(e) — nothing of e is in the file, e is redelivered; during the
 * append — the tail is cut at the next open, e is redelivered; after the record, before the acks —
 * e is redelivered and every line is skipped by id. One writer per file: the sink holds
 * `<file>.weir-lock` (jsonl-file-lock.ts) from before it opens the file until close, so a second
 * writer fails at start (`JSONL_LOCKED`); a writer that appends anyway (not Weir) is detected at
 * the next commit, which fails for good (`JSONL_CONCURRENT_WRITER`, not retriable), and a failed
 * commit truncates only bytes this sink appended. The file's ids are kept in memory.
 */
import { mkdir, open, rename, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Message, SinkFunction, SinkResult } from "@weir/actors";
import { silentLogger, type Logger } from "../observability/logger.js";
import { toJsonLine } from "./json-line.js";
import { acquireFileLock, type FileLock } from "./jsonl-file-lock.js";
import { JsonlSinkError } from "./jsonl-sink-error.js";
import { sinkConnectorFromFunction, type SinkConnector } from "./sink-connector.js";

export interface ExactlyOnceJsonlSinkOptions {
  readonly logger?: Logger;
}

/** What the commit record holds: the file's committed length, and its line count (for people). */
interface CommitRecord {
  readonly length: number;
  readonly lines: number;
}

const NEWLINE = 0x0a;
const SCAN_CHUNK = 1 << 20;

/** The commit record of `file`: `<file>.weir-commit`, in the same directory (rename stays atomic). */
export function commitRecordPath(file: string): string {
  return join(dirname(file), `${basename(file)}.weir-commit`);
}

/**
 * @example
 * ```ts
 * const sink = await createExactlyOnceJsonlSink("/data/out.jsonl");
 * await sink.write!(messages, context);   // staged, answered ok
 * await sink.commit!(context.epoch);      // appended once, fsynced, recorded
 * await sink.close();
 * ```
 */
export async function createExactlyOnceJsonlSink(file: string, options: ExactlyOnceJsonlSinkOptions = {}): Promise<SinkConnector> {
  const logger = options.logger ?? silentLogger;
  const recordFile = commitRecordPath(file);
  let handle: FileHandle;
  try {
    await mkdir(dirname(file), { recursive: true });
  } catch (error) {
    throw new JsonlSinkError("JSONL_RECOVERY_FAILED", `jsonl sink: cannot create the directory of ${file}: ${(error as Error).message}`, { cause: error });
  }
  // Before the file is opened: recovery truncates, and only the single writer may.
  const lock: FileLock = await acquireFileLock(file, logger);
  try {
    // a+: appends always go to the end (O_APPEND); reading is allowed for the recovery scan.
    handle = await open(file, "a+");
  } catch (error) {
    await lock.release();
    throw new JsonlSinkError("JSONL_RECOVERY_FAILED", `jsonl sink: cannot open ${file} for appending: ${(error as Error).message}`, { cause: error });
  }
  let state: { length: number; lines: number; ids: Set<string> };
  try {
    state = await recover(handle, file, recordFile, logger);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await lock.release();
    if (error instanceof JsonlSinkError) throw error;
    throw new JsonlSinkError("JSONL_RECOVERY_FAILED", `jsonl sink: cannot recover ${file}: ${(error as Error).message}`, { cause: error });
  }
  const written = state.ids;
  let committed: CommitRecord = { length: state.length, lines: state.lines };

  /** Lines waiting for their epoch's commit, by epoch then id (a redriven id replaces its line). */
  const staged = new Map<number, Map<string, string>>();
  let closed = false;
  /** Set when a failed commit could not be undone: the file's tail is unknown until a restart. */
  let broken: JsonlSinkError | undefined;
  // Commits run one at a time (the supervisor commits in order; this keeps close() behind them).
  let chain: Promise<unknown> = Promise.resolve();

  const write: SinkFunction = async (messages, context) => {
    if (closed) throw new JsonlSinkError("JSONL_CLOSED", `jsonl sink ${file}: write after close()`);
    let lines = staged.get(context.epoch);
    if (lines === undefined) {
      lines = new Map();
      staged.set(context.epoch, lines);
    }
    for (const message of messages) lines.set(message.id, toJsonLine(message, context.partition));
    return allOk(messages);
  };

  const commitEpoch = async (epoch: number): Promise<void> => {
    if (broken !== undefined) throw broken;
    const lines = staged.get(epoch);
    if (lines === undefined) return; // nothing of this epoch reached the sink (all fell back)
    const ids: string[] = [];
    let text = "";
    for (const [id, line] of lines) {
      if (written.has(id)) continue; // committed before a crash, redelivered since: skipped
      ids.push(id);
      text += `${line}\n`;
    }
    if (ids.length < lines.size) {
      logger.info("jsonl sink: skipped lines the file already holds (redelivered after their commit)", { file, epoch, skipped: lines.size - ids.length });
    }
    if (ids.length === 0) {
      staged.delete(epoch);
      return;
    }
    const bytes = Buffer.from(text, "utf8");
    const { size } = await handle.stat();
    if (size !== committed.length) {
      // Never truncate here: those bytes are someone else's. Nor retry: they will not go away.
      broken = new JsonlSinkError(
        "JSONL_CONCURRENT_WRITER",
        `jsonl sink ${file}: the file is ${size} bytes but this sink committed ${committed.length}; another process writes to it, and an exactly-once jsonl file needs a single writer — give each worker its own file`,
        { retriable: false },
      );
      throw broken;
    }
    const next: CommitRecord = { length: committed.length + bytes.length, lines: committed.lines + ids.length };
    const appended = { bytes: 0 };
    try {
      await appendAll(handle, bytes, appended);
      await handle.datasync();
      // The rename inside is the commit point: the record names the new length only now.
      await writeCommitRecord(recordFile, next);
    } catch (error) {
      // The partial append goes, or the retry would find the file longer than committed (#10 item 14).
      broken = await undoAppend(handle, file, committed.length, appended.bytes);
      throw new JsonlSinkError("JSONL_COMMIT_FAILED", `jsonl sink ${file}: committing epoch ${epoch} failed: ${(error as Error).message}`, {
        retriable: broken === undefined,
        cause: error,
      });
    }
    committed = next;
    for (const id of ids) written.add(id);
    staged.delete(epoch);
  };

  const commit = (epoch: number): Promise<void> => {
    const run = chain.then(() => commitEpoch(epoch));
    chain = run.catch(() => undefined);
    return run;
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await chain;
    // Whatever is still staged belongs to epochs that never committed: their input was not acked.
    staged.clear();
    try {
      await handle.close();
    } finally {
      await lock.release();
    }
  };

  return sinkConnectorFromFunction(write, { commit, close });
}

const allOk = (messages: readonly Message[]): SinkResult[] => messages.map((message) => ({ id: message.id, status: "ok" }));

/** One append of `bytes` (the usual case); a short write continues where it stopped. */
async function appendAll(handle: FileHandle, bytes: Buffer, appended: { bytes: number }): Promise<void> {
  while (appended.bytes < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, appended.bytes, bytes.length - appended.bytes, null);
    if (bytesWritten <= 0) throw new Error(`append wrote ${bytesWritten} bytes`);
    appended.bytes += bytesWritten;
  }
}

/**
 * Cuts the file back to `committed` after a failed commit, but only when every byte past it is
 * one this sink appended (`appended`): bytes beyond are another writer's, never truncated.
 * Returns the error that must stop the sink when the file cannot be brought back.
 */
async function undoAppend(handle: FileHandle, file: string, committed: number, appended: number): Promise<JsonlSinkError | undefined> {
  try {
    const { size } = await handle.stat();
    if (size > committed + appended) {
      return new JsonlSinkError(
        "JSONL_CONCURRENT_WRITER",
        `jsonl sink ${file}: the file is ${size} bytes, more than this sink's ${committed} committed and ${appended} appended; another process writes to it, so nothing is truncated — give each writer its own file, then restart`,
      );
    }
    if (size > committed) await handle.truncate(committed);
    return undefined;
  } catch (undo) {
    return new JsonlSinkError(
      "JSONL_BROKEN",
      `jsonl sink ${file}: a failed commit could not be undone (${(undo as Error).message}); restart the worker so the file is recovered from its commit record`,
      { cause: undo },
    );
  }
}

/**
 * Brings the file back to its last complete commit and loads its ids. The file may be longer than
 * the record (an append that never committed: cut off) but never shorter (someone truncated or
 * replaced it: refused, as silently re-writing lost lines is not this sink's call).
 */
async function recover(handle: FileHandle, file: string, recordFile: string, logger: Logger): Promise<{ length: number; lines: number; ids: Set<string> }> {
  const { size } = await handle.stat();
  const record = await readCommitRecord(recordFile);
  if (record !== undefined && record.length > size) {
    throw new JsonlSinkError(
      "JSONL_RECOVERY_FAILED",
      `jsonl sink: ${file} is ${size} bytes, shorter than its last commit (${record.length} bytes in ${recordFile}); it was truncated or replaced outside Weir — restore it, or remove ${recordFile} to accept the file as it is`,
    );
  }
  const end = record?.length ?? size;
  const { ids, lines, completeLength } = await scanIds(handle, file, end);
  if (completeLength < size) {
    logger.warn("jsonl sink: removing the end of the file that no commit completed; its messages are redelivered", {
      file,
      removedBytes: size - completeLength,
    });
    await handle.truncate(completeLength);
    await handle.datasync();
  }
  if (record === undefined || record.length !== completeLength) await writeCommitRecord(recordFile, { length: completeLength, lines });
  return { length: completeLength, lines, ids };
}

/** The ids of the complete lines in the first `end` bytes, and where the last complete line ends. */
async function scanIds(handle: FileHandle, file: string, end: number): Promise<{ ids: Set<string>; lines: number; completeLength: number }> {
  const ids = new Set<string>();
  let lines = 0;
  let position = 0; // file offset of carry[0]
  let carry = Buffer.alloc(0);
  const chunk = Buffer.alloc(SCAN_CHUNK);
  let read = 0;
  while (read < end) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(SCAN_CHUNK, end - read), read);
    if (bytesRead === 0) break;
    read += bytesRead;
    const data = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
    let start = 0;
    for (let newline = data.indexOf(NEWLINE, start); newline !== -1; newline = data.indexOf(NEWLINE, start)) {
      lines += 1;
      ids.add(idOfLine(data.subarray(start, newline), file, lines));
      start = newline + 1;
    }
    position += start;
    // A partial line (never across a newline byte: UTF-8 never uses 0x0a inside a character).
    carry = Buffer.from(data.subarray(start));
  }
  return { ids, lines, completeLength: position };
}

function idOfLine(line: Buffer, file: string, number: number): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const id = typeof parsed === "object" && parsed !== null ? (parsed as { id?: unknown }).id : undefined;
  if (typeof id !== "string") {
    throw new JsonlSinkError(
      "JSONL_RECOVERY_FAILED",
      `jsonl sink: line ${number} of ${file} is not a JSON object with a string id; an exactly-once file must hold only lines a jsonl sink wrote — give the sink a new file`,
    );
  }
  return id;
}

async function readCommitRecord(recordFile: string): Promise<CommitRecord | undefined> {
  let text: string;
  let handle: FileHandle | undefined;
  try {
    handle = await open(recordFile, "r");
    text = await handle.readFile("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new JsonlSinkError("JSONL_RECOVERY_FAILED", `jsonl sink: cannot read the commit record ${recordFile}: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle?.close();
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    record = undefined;
  }
  const length = typeof record === "object" && record !== null ? (record as { length?: unknown }).length : undefined;
  const lines = typeof record === "object" && record !== null ? (record as { lines?: unknown }).lines : undefined;
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new JsonlSinkError(
      "JSONL_RECOVERY_FAILED",
      `jsonl sink: the commit record ${recordFile} is not {"length": <bytes>, …}; remove it to accept the jsonl file as it is`,
    );
  }
  return { length, lines: typeof lines === "number" ? lines : 0 };
}

/** Replaces the commit record atomically: write a temporary file, fsync it, rename it over. */
async function writeCommitRecord(recordFile: string, record: CommitRecord): Promise<void> {
  const temporary = `${recordFile}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(`${JSON.stringify({ version: 1, length: record.length, lines: record.lines })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, recordFile);
  // Makes the rename itself durable against a power loss; a process crash needs nothing more.
  // Best effort: after the rename the commit has happened, whatever this says.
  const directory = await open(dirname(recordFile), "r").catch(() => undefined);
  if (directory !== undefined) await directory.sync().catch(() => undefined).finally(() => directory.close());
}
