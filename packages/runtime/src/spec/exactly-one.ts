import { z } from "zod";
import { ALWAYS, isRecord, reportDrafts, type IssueDraft } from "./issue-draft.js";
import { closest } from "./suggest.js";

/** `{ a?: A; b?: B }` → `{ a: A } | { b: B }`: what an "exactly one of" object holds once valid. */
export type OneOf<T> = { [K in keyof T]-?: { [P in K]-?: Exclude<T[P], undefined> } }[keyof T];

/** Which of `keys` the object sets; `null` counts, so `source:` with no body is reported as such. */
export function presentKeys<K extends string>(value: unknown, keys: readonly K[]): K[] {
  return isRecord(value) ? keys.filter((key) => value[key] !== undefined) : [];
}

/**
 * The issues of an object that must set exactly one of `keys`.
 * `priorIssues` are the object's issues so far: when one of them is an unknown key that is a
 * misspelling of an allowed one, "needs exactly one" would only repeat it, so it is left out.
 */
export function exactlyOneIssues(
  what: string,
  keys: readonly string[],
  value: unknown,
  priorIssues: readonly unknown[],
  hints: { readonly none?: string; readonly many?: string } = {},
): IssueDraft[] {
  if (!isRecord(value)) return [];
  const present = presentKeys(value, keys);
  if (present.length === 1) return [];
  const needs = keys.length === 1 ? `${what} needs '${keys.join("")}'` : `${what} needs exactly one of ${keys.join(", ")}`;
  if (present.length === 0) {
    if (misspellsOneOf(priorIssues, keys)) return [];
    const add = keys.length === 1 ? `add ${keys.join("")}: {…}` : `add one of: ${keys.join(", ")}`;
    return [{ path: [], message: needs, hint: hints.none ?? add }];
  }
  return [
    {
      path: [],
      message: `${needs}, but has ${present.join(" and ")}`,
      hint: hints.many ?? `keep one of ${present.join(", ")} and remove the others`,
    },
  ];
}

function misspellsOneOf(issues: readonly unknown[], keys: readonly string[]): boolean {
  return issues.some((issue) => {
    if (!isRecord(issue) || issue["code"] !== "unrecognized_keys") return false;
    const path = issue["path"];
    const unknownKeys = issue["keys"];
    if (Array.isArray(path) && path.length > 0) return false;
    return Array.isArray(unknownKeys) && unknownKeys.some((key) => typeof key === "string" && closest(key, keys) !== undefined);
  });
}

/** JSON Schema for "exactly one of these keys", so editors flag the mistake too. */
export function requireExactlyOne(keys: readonly string[]): { oneOf: { required: string[] }[] } {
  return { oneOf: keys.map((key) => ({ required: [key] })) };
}

/**
 * A strict object whose keys are alternatives: exactly one must be set.
 * Input: every key optional (the JSON Schema says "exactly one" with `oneOf`).
 * Output: a union of single-key objects, so `"jsonl" in sink` narrows.
 */
export function oneOfKeys<const S extends Readonly<Record<string, z.ZodType>>>(what: string, shape: S) {
  const keys = Object.keys(shape);
  return z
    .strictObject(shape)
    .partial()
    .meta(requireExactlyOne(keys))
    .superRefine((value, ctx) => reportDrafts(ctx, exactlyOneIssues(what, keys, value, ctx.issues)), ALWAYS)
    .transform((value) => value as OneOf<typeof value>);
}
