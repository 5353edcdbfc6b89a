import { WeirError } from "@weir/actors";

/**
 * One problem found in a pipeline spec.
 *
 * `path` names the bad field the way a user would find it in the file
 * (`spec.vertices[1].partitions`); syntax errors, which have no field, use `(yaml)` or `(json)`.
 * `line`/`column` (1-based) are set when the spec came from a file and the spot could be found.
 */
export interface SpecIssue {
  readonly path: string;
  readonly message: string;
  /** What would be valid, or the likely fix ("did you mean 'partitions'?"). */
  readonly hint?: string;
  readonly line?: number;
  readonly column?: number;
}

/** `SPEC_INVALID`: the spec was read but is wrong. `SPEC_UNREADABLE`: the file could not be read. */
export type SpecErrorCode = "SPEC_INVALID" | "SPEC_UNREADABLE";

/** `<path>: <message> — <hint>`, then the place in the file when known. */
export function formatSpecIssue(issue: SpecIssue, file?: string): string {
  const hint = issue.hint === undefined ? "" : ` — ${issue.hint}`;
  let where = "";
  if (issue.line !== undefined) {
    const column = issue.column === undefined ? "" : `:${issue.column}`;
    where = file === undefined ? ` (line ${issue.line}${column})` : ` (${file}:${issue.line}${column})`;
  }
  return `${issue.path}: ${issue.message}${hint}${where}`;
}

/**
 * A pipeline spec that cannot run. Carries every issue found, not just the first, so a user
 * fixes the file in one pass.
 *
 * @example
 * ```ts
 * try { await loadSpec("pipeline.yaml"); }
 * catch (error) {
 *   if (error instanceof SpecError) for (const issue of error.issues) console.error(issue.path, issue.message);
 * }
 * ```
 */
export class SpecError extends WeirError {
  override readonly code: SpecErrorCode;
  readonly issues: readonly SpecIssue[];
  /** The spec file, as the caller named it, when the spec came from a file. */
  readonly file: string | undefined;

  constructor(
    issues: readonly SpecIssue[],
    options: { file?: string; code?: SpecErrorCode; cause?: unknown } = {},
  ) {
    const code = options.code ?? "SPEC_INVALID";
    const subject = options.file === undefined ? "pipeline spec" : `pipeline spec ${options.file}`;
    const heading = code === "SPEC_UNREADABLE" ? `cannot read ${subject}:` : `invalid ${subject}:`;
    const lines = issues.map((issue) => `  ${formatSpecIssue(issue, options.file)}`);
    super(code, [heading, ...lines].join("\n"), { cause: options.cause });
    this.code = code;
    this.issues = issues;
    this.file = options.file;
  }
}

/** The CLI was called wrongly (unknown command or option, missing argument). */
export class UsageError extends WeirError {
  override readonly code: "USAGE" = "USAGE";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super("USAGE", message, options);
  }
}
