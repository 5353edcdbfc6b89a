import { WeirError } from "@weir/actors";

export type JsonlSinkErrorCode =
  /** The file or its commit record cannot be opened, read or recovered. */
  | "JSONL_RECOVERY_FAILED"
  /** An epoch's append or its commit record failed; the append was undone, the commit may be retried. */
  | "JSONL_COMMIT_FAILED"
  /** Something else appended to the file: an exactly-once file needs a single writer. */
  | "JSONL_CONCURRENT_WRITER"
  /** Another live process holds the file's lock (`<file>.weir-lock`): one writer per file. */
  | "JSONL_LOCKED"
  /** The lock file cannot be created or read. */
  | "JSONL_LOCK_FAILED"
  /** A failed commit could not be undone: the file must be recovered by a restart. */
  | "JSONL_BROKEN"
  | "JSONL_CLOSED";

/** A problem of the exactly-once `jsonl` sink (exactly-once-jsonl-sink.ts). */
export class JsonlSinkError extends WeirError {
  constructor(code: JsonlSinkErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}
