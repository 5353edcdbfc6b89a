import { z } from "zod";
import { isRecord } from "./issue-draft.js";

type Schema = z.core.$ZodType;

/** The schema found at a path, past its wrappers, with the nearest description on the way. */
export interface SchemaAt {
  readonly schema: Schema;
  readonly description: string | undefined;
}

/**
 * The schema that checks the value at `path` of `doc`, or `undefined` when the path leaves
 * the schema (e.g. an unknown key). Used to turn zod's terse issues into advice: the keys an
 * object allows ("did you mean 'partitions'?") and a field's description as a hint. zod issues
 * carry neither, so the loader walks the schema along the path. Discriminated unions
 * are resolved with the document's own discriminator value.
 */
export function schemaAt(root: Schema, path: readonly PropertyKey[], doc: unknown): SchemaAt | undefined {
  let schema = root;
  let value = doc;
  for (const key of path) {
    const { schema: current } = unwrap(schema, value);
    let next: Schema | undefined;
    if (current instanceof z.ZodObject && typeof key === "string") next = current.shape[key];
    else if (current instanceof z.ZodArray && typeof key === "number") next = current.element;
    if (next === undefined) return undefined;
    schema = next;
    value = valueAt(value, [key]);
  }
  return unwrap(schema, value);
}

/** The keys an object schema allows, or undefined when `at` is not an object. */
export function allowedKeys(at: SchemaAt | undefined): string[] | undefined {
  return at?.schema instanceof z.ZodObject ? Object.keys(at.schema.shape) : undefined;
}

/** The value at `path` in a plain JSON-like document. */
export function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let value = doc;
  for (const key of path) {
    if (Array.isArray(value) && typeof key === "number") value = value[key];
    else if (isRecord(value) && typeof key === "string") value = value[key];
    else return undefined;
  }
  return value;
}

function unwrap(schema: Schema, value: unknown): SchemaAt {
  let current = schema;
  let description = describe(current);
  // Wrappers nest a handful deep at most; the bound only guards against a schema cycle.
  for (let depth = 0; depth < 32; depth++) {
    const next = innerOf(current, value);
    if (next === undefined) break;
    current = next;
    description ??= describe(current);
  }
  return { schema: current, description };
}

function innerOf(schema: Schema, value: unknown): Schema | undefined {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault
  ) {
    return schema.unwrap();
  }
  if (schema instanceof z.ZodPipe) return schema.in;
  if (schema instanceof z.ZodUnion) return objectOption(schema, value);
  return undefined;
}

/** The object option of a union that `value` is meant for, when it can be told. */
function objectOption(union: z.ZodUnion, value: unknown): Schema | undefined {
  const objects = union.options.filter((option): option is z.ZodObject => option instanceof z.ZodObject);
  if (union instanceof z.ZodDiscriminatedUnion && isRecord(value)) {
    const discriminator = union.def.discriminator;
    const wanted = value[discriminator];
    const match = objects.find((option) => {
      const literal = option.shape[discriminator];
      return literal instanceof z.ZodLiteral && [...literal.values].some((allowed) => allowed === wanted);
    });
    if (match !== undefined) return match;
  }
  return objects.length === 1 ? objects[0] : undefined;
}

function describe(schema: Schema): string | undefined {
  return z.globalRegistry.get(schema)?.description;
}
