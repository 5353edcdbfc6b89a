import { WeirError } from "@weir/actors";

export type MessageSchemaErrorCode =
  /** The schema's file cannot be read, or is not JSON. */
  | "SCHEMA_UNREADABLE"
  /** The schema is not one Weir can check messages with (not a JSON Schema Ajv compiles, not a zod / Standard Schema). */
  | "SCHEMA_INVALID";

/** A vertex's `schema:` that cannot be set up. Raised before the pipeline starts. */
export class MessageSchemaError extends WeirError {
  constructor(code: MessageSchemaErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, ...options });
  }
}
