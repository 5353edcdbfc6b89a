/**
 * A vertex's `schema:` as a function over a message's parsed value: `undefined` when the value
 * conforms, else what is wrong, each problem as `<JSON Pointer>: <message>` (`(root)` for the
 * value itself), e.g. `/amount: must be number; (root): must have required property 'user'`.
 *
 *   { module: { path, export } } ──import──▶ a Standard Schema (zod ≥ 3.24, valibot, arktype…)
 *                                            or anything with zod's safeParse
 *   { jsonSchema: { path } }     ──read, Ajv compile (draft-07, 2019-09, 2020-12; formats)──▶
 *
 * Both are loaded and compiled once, before the pipeline starts: a schema that cannot be used is
 * a start error, never a per-message one.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type AjvModule from "ajv";
import type Ajv2019Module from "ajv/dist/2019.js";
import type Ajv2020Module from "ajv/dist/2020.js";
import type addFormatsModule from "ajv-formats";
import { importExport } from "../connectors/load-module.js";
import type { MessageSchemaSpec } from "../spec/pipeline-spec.js";
import { MessageSchemaError } from "./message-schema-error.js";

/** `undefined`: the value conforms. A string: why it does not. May answer asynchronously. */
export type MessageValidator = (value: unknown) => string | undefined | Promise<string | undefined>;

/** How many problems one reason lists; the rest are counted. */
const MAX_LISTED = 5;

// ajv and ajv-formats are CommonJS with `exports.default`. Required when a JSON Schema is first
// compiled, synchronously, so pipelines without one (and `import "@weir/runtime"`) never load them.
const require = createRequire(import.meta.url);
function ajvModules() {
  return {
    Ajv: (require("ajv") as typeof AjvModule).default,
    Ajv2019: (require("ajv/dist/2019.js") as typeof Ajv2019Module).default,
    Ajv2020: (require("ajv/dist/2020.js") as typeof Ajv2020Module).default,
    addFormats: (require("ajv-formats") as typeof addFormatsModule).default,
  };
}

/** A problem found in a value: where (a path of keys and indexes) and what. */
export interface SchemaProblem {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/**
 * Loads the validator a vertex's `schema:` names (paths already absolute, see resolveSpecPaths).
 *
 * @example
 * ```ts
 * const validate = await loadMessageValidator("out", { jsonSchema: { path: "/srv/order.schema.json" } });
 * await validate({ amount: "3" }); // "/amount: must be number"
 * ```
 */
export async function loadMessageValidator(vertex: string, spec: MessageSchemaSpec): Promise<MessageValidator> {
  if ("module" in spec) {
    const what = `message schema of vertex '${vertex}'`;
    const value = await importExport(spec.module.path, spec.module.export, what);
    return validatorFromSchemaExport(value, `${what} (export '${spec.module.export}' of ${spec.module.path})`);
  }
  const file = spec.jsonSchema.path;
  const what = `JSON Schema ${file} of vertex '${vertex}'`;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new MessageSchemaError("SCHEMA_UNREADABLE", `${what}: cannot read it: ${(error as Error).message}; check the path (relative paths resolve against the spec file)`, { cause: error });
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new MessageSchemaError("SCHEMA_UNREADABLE", `${what}: not JSON: ${(error as Error).message}`, { cause: error });
  }
  return validatorFromJsonSchema(schema, what);
}

/**
 * A validator from a schema object of a user's module: a Standard Schema (`~standard.validate`,
 * https://standardschema.dev — zod 3.24+ and 4, valibot, arktype) or, failing that, an object with
 * zod's `safeParse`.
 */
export function validatorFromSchemaExport(value: unknown, what: string): MessageValidator {
  const standard = isObject(value) ? (value["~standard"] as { validate?: unknown } | undefined) : undefined;
  if (isObject(standard) && typeof standard.validate === "function") {
    const validate = standard.validate.bind(standard) as (value: unknown) => StandardResult | Promise<StandardResult>;
    return (input) => {
      const result = validate(input);
      return result instanceof Promise ? result.then(fromStandardResult) : fromStandardResult(result);
    };
  }
  if (isObject(value) && typeof value["safeParse"] === "function") {
    const safeParse = (value["safeParse"] as (input: unknown) => SafeParseResult).bind(value);
    return (input) => {
      const result = safeParse(input);
      return result.success ? undefined : describeProblems((result.error?.issues ?? []).map(toProblem));
    };
  }
  throw new MessageSchemaError(
    "SCHEMA_INVALID",
    `${what} is a ${value === null ? "null" : typeof value}, not a schema; export a zod schema (e.g. z.object({ … })) or any Standard Schema`,
  );
}

/** A validator from a parsed JSON Schema document, compiled by Ajv for the draft its `$schema` names. */
export function validatorFromJsonSchema(schema: unknown, what: string): MessageValidator {
  if (!isObject(schema) && typeof schema !== "boolean") {
    throw new MessageSchemaError("SCHEMA_INVALID", `${what}: a JSON Schema is an object (or true/false), not ${JSON.stringify(schema)}`);
  }
  const dialect = isObject(schema) && typeof schema["$schema"] === "string" ? schema["$schema"] : "";
  if (isObject(schema) && schema["$async"] === true) {
    throw new MessageSchemaError("SCHEMA_INVALID", `${what}: asynchronous schemas ($async) are not supported`);
  }
  if (/draft-0[34]/.test(dialect)) {
    throw new MessageSchemaError("SCHEMA_INVALID", `${what}: ${dialect} is not supported; use draft-07, 2019-09 or 2020-12 (usually only $schema needs to change)`);
  }
  // allErrors: a reason lists every problem, not the first. strict off: unknown keywords are
  // annotations, as the JSON Schema spec says, not errors.
  const options = { allErrors: true, strict: false };
  const { Ajv, Ajv2019, Ajv2020, addFormats } = ajvModules();
  const ajv = dialect.includes("2020-12") ? new Ajv2020(options) : dialect.includes("2019-09") ? new Ajv2019(options) : new Ajv(options);
  addFormats(ajv);
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new MessageSchemaError("SCHEMA_INVALID", `${what}: Ajv cannot compile it: ${(error as Error).message}`, { cause: error });
  }
  return (input) => {
    if (validate(input) === true) return undefined;
    return describeProblems(
      (validate.errors ?? []).map((error) => {
        const extra = error.keyword === "additionalProperties" ? ` '${String((error.params as { additionalProperty?: unknown }).additionalProperty)}'` : "";
        return { path: fromPointer(error.instancePath), message: `${error.message ?? error.keyword}${extra}` };
      }),
    );
  };
}

/** `/a/0: must be number; (root): …`, at most {@link MAX_LISTED} problems, then how many more. */
export function describeProblems(problems: readonly SchemaProblem[]): string {
  if (problems.length === 0) return "(root): does not match the schema";
  const listed = problems.slice(0, MAX_LISTED).map((problem) => `${toPointer(problem.path)}: ${problem.message}`);
  const more = problems.length > MAX_LISTED ? ` (and ${problems.length - MAX_LISTED} more)` : "";
  return `${listed.join("; ")}${more}`;
}

/** RFC 6901 JSON Pointer of a path; `(root)` for the empty one. */
export function toPointer(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return "(root)";
  return path.map((segment) => `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

function fromPointer(pointer: string): PropertyKey[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}
type StandardResult = { readonly value: unknown; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] };
interface SafeParseResult {
  readonly success: boolean;
  readonly error?: { readonly issues?: readonly StandardIssue[] };
}

function fromStandardResult(result: StandardResult): string | undefined {
  return result.issues === undefined ? undefined : describeProblems(result.issues.map(toProblem));
}

function toProblem(issue: StandardIssue): SchemaProblem {
  return {
    path: (issue.path ?? []).map((segment) => (typeof segment === "object" && segment !== null ? segment.key : segment)),
    message: issue.message,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}
