/**
 * What a spec handed to `weir run` may make Weir run, import or write (#10 item 12). A spec is
 * data someone may have given you; the files it names are code that runs or files that get written.
 *
 * Checked, by path alone (symlinks are not followed), unless `allowModulesOutside`:
 *   - module paths (udf, sink, fallback, schema `module.path`): imported;
 *   - a process's `cwd`, and every `command` element that is itself a path (absolute, or holding
 *     a `/`), resolved against `cwd`: `[node, /abs/outside.mjs]`, `[../../bin/tool]`;
 *   - jsonl sink and fallback paths: written (and, exactly-once, truncated on recovery).
 * Not checkable, so never promised: what a program does once it runs — a string an interpreter
 * runs (`[sh, -c, "…"]`, `[python3, -c, "…"]`, `[node, -e, "…"]`), a path inside an argument
 * (`--config=/etc/x`) or in `env`, a program found on PATH. `noExec` (CLI `--no-exec`) is the guard for
 * specs you do not trust: it refuses every vertex that would run code the spec names.
 */
import path from "node:path";
import type { SpecIssue } from "../errors.js";
import type { PipelineSpec, ProcessSpec } from "./pipeline-spec.js";
import type { Locate } from "./zod-issues.js";

export interface SpecFileGuardOptions {
  /** Accept module, process and file paths outside the spec's directory. */
  readonly allowModulesOutside?: boolean;
  /** Refuse every process command and module (udf, sink, fallback, schema): run built-ins only. */
  readonly noExec?: boolean;
}

type At = Array<string | number>;

/** Every issue of `spec` under `options`; empty when the spec may run. */
export function specFileIssues(spec: PipelineSpec, baseDir: string, options: SpecFileGuardOptions, locate: Locate | undefined): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const push = (at: At, message: string, hint: string) => issues.push({ path: toPath(at), message, hint, ...(locate?.(at) ?? {}) });
  const outside = (at: At, target: string, what: string) =>
    push(at, `${what} ${target} is outside the spec's directory`, `keep it in ${baseDir} or below, or pass --allow-modules-outside (library: loadSpec(file, { allowModulesOutside: true }))`);
  const refuseCode = (at: At, what: string) =>
    push(at, `${what} would run code named by the spec, and --no-exec refuses that`, "run this spec without --no-exec only if you trust it and the files beside it");
  const inside = (target: string) => isInside(baseDir, target);

  const checkProcess = (at: At, process: ProcessSpec) => {
    if (options.noExec === true) return refuseCode(at, "a process vertex");
    if (options.allowModulesOutside === true) return;
    const cwd = process.cwd ?? baseDir;
    if (!inside(cwd)) outside([...at, "cwd"], cwd, "the process's working directory");
    process.command.forEach((arg, i) => {
      // A bare word is a program on PATH (first) or a file in cwd (checked above); a path is checked.
      if (!isPathLike(arg)) return;
      const target = path.resolve(cwd, arg);
      if (!inside(target)) outside([...at, "command", i], target, i === 0 ? "the program" : "the process argument");
    });
  };
  const checkConnector = (at: At, connector: object) => {
    if ("module" in connector) {
      const module = (connector as { module: { path: string } }).module;
      if (options.noExec === true) refuseCode([...at, "module"], "a module");
      else if (options.allowModulesOutside !== true && !inside(module.path)) outside([...at, "module", "path"], module.path, "the module");
    }
    if ("process" in connector) checkProcess([...at, "process"], (connector as { process: ProcessSpec }).process);
    if ("jsonl" in connector && options.allowModulesOutside !== true) {
      const file = (connector as { jsonl: { path: string } }).jsonl.path;
      if (!inside(file)) outside([...at, "jsonl", "path"], file, "the jsonl file");
    }
  };

  spec.spec.vertices.forEach((vertex, i) => {
    const at: At = ["spec", "vertices", i];
    if (vertex.kind === "udf") checkConnector([...at, "udf"], vertex.udf);
    if (vertex.kind === "sink") checkConnector([...at, "sink"], vertex.sink);
    if (vertex.kind !== "source" && vertex.fallback !== undefined) checkConnector([...at, "fallback"], vertex.fallback);
    // A message schema module is imported too (a JSON Schema file is only read).
    if (vertex.kind !== "source" && vertex.schema !== undefined) checkConnector([...at, "schema"], vertex.schema);
  });
  return issues;
}

function isInside(baseDir: string, target: string): boolean {
  const relative = path.relative(baseDir, target);
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** `/x`, `./x`, `../x`, `dir/x` (and `\` on Windows): a file, not a word or a flag. */
function isPathLike(arg: string): boolean {
  if (arg.startsWith("-")) return false; // a flag; a path inside it (`--config=/x`) is not checked
  return path.isAbsolute(arg) || arg.includes("/") || arg.includes(path.sep);
}

export function toPath(at: ReadonlyArray<string | number>): string {
  return at.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}
