import { z } from "zod";
import { pipelineSpecSchema } from "./pipeline-spec.js";

/**
 * The JSON Schema of what users write (`weir schema`), for editors and CI.
 * `io: "input"` describes the input side: defaulted fields are optional and durations may be
 * text. "Exactly one of" objects carry a `oneOf` of `required` clauses.
 *
 * @example
 * ```ts
 * writeFileSync("weir.schema.json", JSON.stringify(pipelineJsonSchema(), null, 2));
 * ```
 */
export function pipelineJsonSchema(): z.core.JSONSchema.JSONSchema {
  return z.toJSONSchema(pipelineSpecSchema, { io: "input" });
}
