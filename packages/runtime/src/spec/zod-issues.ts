import type { z } from "zod";
import type { SpecIssue } from "../errors.js";
import { isRecord } from "./issue-draft.js";
import { allowedKeys, schemaAt, valueAt } from "./schema-at.js";
import { didYouMean } from "./suggest.js";

/** Where a path is in the source file, when the spec came from one. */
export type Locate = (path: readonly PropertyKey[]) => { line: number; column: number } | undefined;

export interface IssueContext {
  /** The schema the document was parsed with, to look up allowed keys and descriptions. */
  readonly root: z.core.$ZodType;
  /** The document as parsed from the file, before zod. */
  readonly doc: unknown;
  readonly locate?: Locate | undefined;
}

interface Draft {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly hint?: string | undefined;
}

/**
 * Turns zod issues into spec issues a user can act on: a dotted path into the file, a plain
 * message that shows the bad value, and a hint (the closest allowed key or option, or what the
 * field takes). Never exposes zod's own wording where it would confuse ("Invalid input").
 */
export function toSpecIssues(issues: readonly z.core.$ZodIssue[], context: IssueContext): SpecIssue[] {
  const seen = new Set<string>();
  const result: SpecIssue[] = [];
  for (const issue of issues) {
    for (const draft of draftsFor(issue, context)) {
      const specIssue = finish(draft, context);
      const key = `${specIssue.path}\u0000${specIssue.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      result.push(specIssue);
    }
  }
  return result;
}

/** `spec.vertices[1].partitions`; `(document)` for the whole file. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) text += text === "" ? key : `.${key}`;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text === "" ? "(document)" : text;
}

function finish(draft: Draft, { locate }: IssueContext): SpecIssue {
  const place = locate?.(draft.path);
  return {
    path: formatPath(draft.path),
    message: draft.message,
    ...(draft.hint === undefined ? {} : { hint: draft.hint }),
    ...(place === undefined ? {} : { line: place.line, column: place.column }),
  };
}

function draftsFor(issue: z.core.$ZodIssue, { root, doc }: IssueContext): Draft[] {
  const path = issue.path;
  const value = valueAt(doc, path);
  const description = () => schemaAt(root, path, doc)?.description;
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeys(schemaAt(root, path, doc));
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: `unknown field '${key}'`,
        hint: unknownKeyHint(key, allowed),
      }));
    }
    case "invalid_type":
      if (value === undefined) return [{ path, message: "is required", hint: description() }];
      return [
        {
          path,
          message: `expected ${expectedText(issue.expected)}, got ${describeValue(value)}`,
          hint: typeHint(issue.expected, value) ?? description(),
        },
      ];
    case "too_small":
    case "too_big":
      return [{ path, message: boundMessage(issue, value), hint: description() }];
    case "invalid_value": {
      const options = issue.values.map(String);
      const message =
        options.length === 1
          ? `must be '${options.join("")}', got ${describeValue(value)}`
          : `expected one of ${options.join(", ")}, got ${describeValue(value)}`;
      return [{ path, message, hint: typeof value === "string" ? didYouMean(value, options) : undefined }];
    }
    case "invalid_union": {
      if ("options" in issue && issue.options !== undefined && issue.options.length > 0) {
        // A discriminated union whose discriminator matched no option; zod points at the key.
        const options = issue.options.map(String);
        return [
          {
            path,
            message: `expected one of ${options.join(", ")}, got ${describeValue(value)}`,
            hint: typeof value === "string" ? didYouMean(value, options) : undefined,
          },
        ];
      }
      const message = issue.message === "Invalid input" ? "does not match any allowed form" : issue.message;
      return [{ path, message, hint: description() }];
    }
    case "custom": {
      const hint = isRecord(issue.params) && typeof issue.params["hint"] === "string" ? issue.params["hint"] : undefined;
      return [{ path, message: issue.message, hint }];
    }
    default:
      // invalid_format carries the message its schema set (e.g. the name or duration rule).
      return [{ path, message: issue.message }];
  }
}

function unknownKeyHint(key: string, allowed: readonly string[] | undefined): string | undefined {
  if (allowed === undefined) return undefined;
  if (allowed.length === 0) return "this object takes no fields; write {}";
  return didYouMean(key, allowed) ?? `allowed fields: ${allowed.join(", ")}`;
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, value: unknown): string {
  const small = issue.code === "too_small";
  const bound = Number(small ? issue.minimum : issue.maximum);
  switch (issue.origin) {
    case "array":
      return small
        ? `needs at least ${bound} ${bound === 1 ? "entry" : "entries"}`
        : `takes at most ${bound} ${bound === 1 ? "entry" : "entries"}`;
    case "string":
      if (small && bound === 1) return "must not be empty";
      return `must be ${small ? "at least" : "at most"} ${bound} characters`;
    default: {
      const inclusive = issue.inclusive !== false;
      const sign = small ? (inclusive ? "≥" : ">") : inclusive ? "≤" : "<";
      return `must be ${sign} ${bound}, got ${describeValue(value)}`;
    }
  }
}

function expectedText(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "object":
      return "an object (a mapping)";
    case "array":
      return "a list";
    case "boolean":
      return "true or false";
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function typeHint(expected: string, value: unknown): string | undefined {
  if ((expected === "number" || expected === "int") && typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) {
    return `write ${value} without quotes`;
  }
  if (expected === "object" && value === null) return "write {} for an object with no fields";
  return undefined;
}

/** A short, quoted rendering of a user's value for messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return String(value);
}
