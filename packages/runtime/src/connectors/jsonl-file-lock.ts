/**
 * One writer per exactly-once jsonl file (#10 item 4): `<file>.weir-lock`, held for the sink's
 * lifetime. Two writers that both pass a size check and both write the commit record erase each
 * other's committed lines; a lock taken before the file is even opened makes the second writer
 * fail at start instead.
 *
 *   acquire: write {pid, host, start} to a private temporary file, link(2) it to the lock path
 *            (atomic, fails with EEXIST, and the lock never exists half-written)
 *     EEXIST ──▶ read the holder ──▶ alive (or on another host) ──▶ JSONL_LOCKED
 *                                └─▶ dead (same host, pid gone or reused) ──▶ take over, once
 *   release: remove the lock if it is still ours
 *
 * "Dead" is judged on this host only: `kill(pid, 0)` answers ESRCH, or `/proc/<pid>/stat` shows
 * another start time than the holder wrote (the pid was reused). A lock from another host is
 * never taken over; its message says which file to remove once that host's writer is gone.
 */
import { link, open, readFile, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../observability/logger.js";
import { JsonlSinkError } from "./jsonl-sink-error.js";

/** Who holds a lock: what `<file>.weir-lock` contains. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22); null off Linux. */
  readonly start: string | null;
}

export interface FileLock {
  readonly path: string;
  /** Removes the lock if it is still this process's. Idempotent. */
  release(): Promise<void>;
}

/** The lock of `file`: `<file>.weir-lock`, in the same directory. */
export function lockPath(file: string): string {
  return join(dirname(file), `${basename(file)}.weir-lock`);
}

/**
 * Takes the lock of `file` or fails with `JSONL_LOCKED` naming the holder.
 *
 * @example
 * const lock = await acquireFileLock("/data/out.jsonl", logger);
 * try { … write the file … } finally { await lock.release(); }
 */
export async function acquireFileLock(file: string, logger: Logger): Promise<FileLock> {
  const path = lockPath(file);
  const me: LockHolder = { pid: process.pid, host: hostname(), start: await startTimeOf(process.pid) };
  // Twice at most: a first try, and one after taking a dead holder's lock over.
  for (let tries = 0; tries < 2; tries += 1) {
    if (await tryCreate(path, me, file)) return { path, release: once(() => releaseLock(path, me)) };
    const holder = await readHolder(path);
    if (holder === undefined) continue; // released between our try and our read
    if (!(await isDead(holder, me))) throw lockedError(file, path, holder);
    if (!(await takeOver(path, holder))) throw lockedError(file, path, holder);
    logger.warn("jsonl sink: took over the lock of a writer that is gone (it crashed); its uncommitted tail is cut at open", {
      file,
      pid: holder.pid,
    });
  }
  const holder = await readHolder(path);
  throw lockedError(file, path, holder ?? { pid: -1, host: "unknown", start: null });
}

async function tryCreate(path: string, me: LockHolder, file: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new JsonlSinkError("JSONL_LOCK_FAILED", `jsonl sink: cannot create the lock ${path} for ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new JsonlSinkError("JSONL_LOCK_FAILED", `jsonl sink: cannot read the lock ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === "number" && typeof value.host === "string") return { pid: value.pid, host: value.host, start: value.start ?? null };
  } catch {
    // fall through: not a lock this code wrote
  }
  throw new JsonlSinkError("JSONL_LOCK_FAILED", `jsonl sink: the lock ${path} is not {"pid", "host", "start"}; remove it once no process writes the file`);
}

async function isDead(holder: LockHolder, me: LockHolder): Promise<boolean> {
  if (holder.host !== me.host) return false;
  if (holder.pid === me.pid) return holder.start !== me.start;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: alive, only not ours to signal.
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
  const start = await startTimeOf(holder.pid);
  return start !== null && holder.start !== null && start !== holder.start;
}

/**
 * Moves the dead holder's lock aside and removes it, but only if what was moved is that holder's:
 * another process may have taken the lock over in between, and its lock is put back.
 */
async function takeOver(path: string, dead: LockHolder): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true; // someone removed it already
    throw error;
  }
  const moved = await readHolder(aside).catch(() => undefined);
  if (moved !== undefined && moved.pid === dead.pid && moved.start === dead.start && moved.host === dead.host) {
    await unlink(aside);
    return true;
  }
  await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return false;
}

async function releaseLock(path: string, me: LockHolder): Promise<void> {
  const holder = await readHolder(path).catch(() => undefined);
  if (holder !== undefined && holder.pid === me.pid && holder.host === me.host && holder.start === me.start) await unlink(path).catch(() => undefined);
}

/** Field 22 of `/proc/<pid>/stat` (after the command name, which may hold spaces and parentheses). */
async function startTimeOf(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function lockedError(file: string, path: string, holder: LockHolder): JsonlSinkError {
  return new JsonlSinkError(
    "JSONL_LOCKED",
    `jsonl sink: ${file} is being written by process ${holder.pid} on ${holder.host} (lock ${path}); an exactly-once jsonl file takes one writer — give each worker its own file. If that process is gone for sure, remove ${path}`,
  );
}

function once(action: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= action());
}
