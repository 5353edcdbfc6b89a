/**
 * The base of every error Weir raises. Branch on `code`, never on the message text;
 * `retriable` says whether the same call may succeed later.
 */
export class WeirError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A frame that breaks the EOT protocol (wrong partition/epoch, unknown or duplicate id, early end). */
export class ProtocolError extends WeirError {
  constructor(code: ProtocolErrorCode, message: string) {
    super(code, message, { retriable: true });
  }
}

export type ProtocolErrorCode =
  | "WRONG_PARTITION"
  | "WRONG_EPOCH"
  | "UNKNOWN_ID"
  | "DUPLICATE_RESULT"
  | "EARLY_END_OF_RESULTS"
  | "RESULT_TIMEOUT"
  | "SINK_CRASHED";
