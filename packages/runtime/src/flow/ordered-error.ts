import { WeirError } from "@weir/actors";

export type OrderedErrorCode = "ORDERED_NEEDS_SINK_FUNCTION";

/** A vertex that cannot run `ordered` as configured. Raised before the pipeline starts. */
export class OrderedError extends WeirError {
  constructor(code: OrderedErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}
