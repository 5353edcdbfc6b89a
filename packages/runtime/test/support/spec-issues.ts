import { expect } from "vitest";
import { SpecError, type SpecIssue } from "../../src/errors.js";
import { parseSpec } from "../../src/spec/load-spec.js";

/** The issues of a spec that must be rejected (parsed against `/base`); fails the test if it parses. */
export function issuesOf(doc: unknown): readonly SpecIssue[] {
  try {
    parseSpec(doc, "/base");
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).issues;
  }
  throw new Error("expected the spec to be rejected");
}
