import { WeirError } from "@weir/actors";

export type ConnectorErrorCode =
  | "MODULE_LOAD_FAILED"
  | "MODULE_EXPORT_MISSING"
  | "MODULE_EXPORT_INVALID"
  | "SINK_OPEN_FAILED"
  | "UNKNOWN_VERTEX"
  | "PIPELINE_ALREADY_STARTED"
  | "UNSUPPORTED_DEPLOYMENT";

/** A source, sink or user module that cannot be set up. Raised before the pipeline starts. */
export class ConnectorError extends WeirError {
  constructor(code: ConnectorErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, ...options });
  }
}
