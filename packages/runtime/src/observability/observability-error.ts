import { WeirError } from "@weir/actors";

/**
 * `PORT_UNAVAILABLE`: the inspector or metrics port could not be bound. `TRACE_UNWRITABLE`: the
 * trace file could not be opened or written. `TRACE_UNREADABLE`: a trace to replay could not be
 * read or is not a Weir trace.
 */
export type ObservabilityErrorCode = "PORT_UNAVAILABLE" | "TRACE_UNWRITABLE" | "TRACE_UNREADABLE";

/** A failure of the inspector, metrics or trace machinery (not of the pipeline itself). */
export class ObservabilityError extends WeirError {
  override readonly code: ObservabilityErrorCode;

  constructor(code: ObservabilityErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.code = code;
  }
}

/** The one line a user reads when a port cannot be bound. */
export function portError(what: string, port: number, cause: unknown): ObservabilityError {
  const reason = (cause as { code?: unknown }).code === "EADDRINUSE" ? "it is in use" : cause instanceof Error ? cause.message : String(cause);
  return new ObservabilityError("PORT_UNAVAILABLE", `cannot serve the ${what} on 127.0.0.1:${port}: ${reason}; pick another port (0 picks a free one)`, { cause });
}
