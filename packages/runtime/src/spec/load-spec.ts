import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Document, LineCounter } from "yaml";
import { SpecError, type SpecIssue } from "../errors.js";
import { decodeSpecText } from "./spec-text.js";
import { pipelineSpecSchema, type PipelineSpec } from "./pipeline-spec.js";
import { readFailure } from "./read-failure.js";
import { resolveSpecPaths } from "./resolve-spec-paths.js";
import { specFileIssues } from "./spec-file-guard.js";
import { readRedisTlsFiles } from "./tls-files.js";
import { toSpecIssues, type Locate } from "./zod-issues.js";

// yaml (~3 MiB of RSS) is loaded by the first loadSpec, not by `import "@weir/runtime"` (issue 11).
let yamlModule: typeof import("./yaml.js") | undefined;
function yaml(): typeof import("./yaml.js") {
  if (yamlModule === undefined) throw new Error("load-spec: yaml is used before loadSpec loaded it");
  return yamlModule;
}

/** A validated spec and where it came from. */
export interface LoadedSpec {
  /** Defaults filled, durations in ms, every file path absolute. */
  readonly spec: PipelineSpec;
  /** The spec file, absolute, when the spec came from a file. */
  readonly file?: string;
  /** The directory relative paths were resolved against, absolute. */
  readonly baseDir: string;
}

/** Options of {@link loadSpec}. */
export interface LoadSpecOptions {
  /**
   * Accept module paths, process working directories, process commands' path arguments and
   * jsonl files outside the spec's directory (CLI: `--allow-modules-outside`). Off by default:
   * the paths a spec names then cannot point elsewhere on the machine (`../../home/me/.ssh/…`,
   * `/tmp/evil.mjs`). What a program does once started is not checked (`[sh, -c, "…"]`): see `noExec`.
   */
  readonly allowModulesOutside?: boolean;
  /**
   * Refuse every vertex that would run code the spec names — process commands and module udfs,
   * sinks, fallbacks and schemas — for specs you do not trust (CLI: `--no-exec`).
   */
  readonly noExec?: boolean;
}

/**
 * Reads, parses and validates a spec file: `.json` as JSON, anything else as YAML (which also
 * reads JSON). Every problem found is thrown as one {@link SpecError}, with line numbers. The
 * redis buffer's TLS files (`buffer.tls`) are read and checked too.
 *
 * @example
 * ```ts
 * const { spec } = await loadSpec("examples/demo.yaml");
 * console.log(spec.metadata.name, spec.spec.vertices.length);
 * ```
 */
export async function loadSpec(file: string, options: LoadSpecOptions = {}): Promise<LoadedSpec> {
  const absolute = path.resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(absolute);
  } catch (cause) {
    const issue: SpecIssue = { path: "(file)", message: readFailure(cause), hint: "check the path" };
    throw new SpecError([issue], { file, code: "SPEC_UNREADABLE", cause });
  }
  const decoded = decodeSpecText(bytes);
  if ("notText" in decoded) throw new SpecError([{ path: "(file)", message: decoded.notText, hint: "check the path" }], { file, code: "SPEC_UNREADABLE" });
  const text = decoded.text;
  yamlModule ??= await import("./yaml.js");
  const parsed = path.extname(absolute).toLowerCase() === ".json" ? parseJson(text, file) : parseYaml(text, file);
  const baseDir = path.dirname(absolute);
  const spec = validate(parsed.doc, baseDir, file, parsed.locate);
  const issues = specFileIssues(spec, baseDir, options, parsed.locate);
  if (issues.length > 0) throw new SpecError(issues, { file });
  // Certificate files are read now, so `weir validate` reports a missing one; the pipeline reads
  // them again when it starts (buffer-factory.ts).
  const buffer = spec.spec.buffer;
  if (buffer.type === "redis" && buffer.tls !== undefined) readRedisTlsFiles(buffer.tls, { file, locate: parsed.locate });
  return { spec, file: absolute, baseDir };
}

/**
 * Validates a spec already parsed into plain data (e.g. built in code), resolving relative
 * paths against `baseDir`.
 *
 * @example
 * ```ts
 * const { spec } = parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", ... }, process.cwd());
 * ```
 */
export function parseSpec(doc: unknown, baseDir: string): LoadedSpec {
  const absolute = path.resolve(baseDir);
  return { spec: validate(doc, absolute, undefined, undefined), baseDir: absolute };
}

function validate(doc: unknown, baseDir: string, file: string | undefined, locate: Locate | undefined): PipelineSpec {
  const options = file === undefined ? {} : { file };
  if (doc === null || doc === undefined) {
    const hint = "start from examples/demo.yaml; `weir schema` lists every field";
    throw new SpecError([{ path: "(document)", message: "the spec is empty", hint }], options);
  }
  const result = pipelineSpecSchema.safeParse(doc);
  if (!result.success) {
    throw new SpecError(toSpecIssues(result.error.issues, { root: pipelineSpecSchema, doc, locate }), options);
  }
  return resolveSpecPaths(result.data, baseDir);
}

interface Parsed {
  readonly doc: unknown;
  readonly locate: Locate | undefined;
}

function parseYaml(text: string, file: string): Parsed {
  const lineCounter = new (yaml().LineCounter)();
  const document = yaml().parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    // One error tends to set off more on the same line; the first one there is the cause.
    const byLine = new Map<number, SpecIssue>();
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      if (!byLine.has(line)) byLine.set(line, { path: "(yaml)", message: firstLine(error.message), line, column: col });
    }
    throw new SpecError([...byLine.values()], { file });
  }
  try {
    // The alias cap stops a "billion laughs" document from expanding without bound.
    return { doc: document.toJS({ maxAliasCount: 100 }), locate: locator(document, lineCounter) };
  } catch (cause) {
    const message = cause instanceof Error ? firstLine(cause.message) : String(cause);
    throw new SpecError([{ path: "(yaml)", message }], { file, cause });
  }
}

function parseJson(text: string, file: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    const raw = cause instanceof Error ? cause.message : String(cause);
    const position = /position (\d+)/.exec(raw)?.[1];
    const place = position === undefined ? yamlErrorPlace(text) : lineAndColumn(text, Number(position));
    // V8 appends an excerpt of the text ('…, "<excerpt>" is not valid JSON') or the position;
    // the location is reported separately, so keep only the reason.
    const message = raw
      .replace(/^(Unexpected token .+?), [\s\S]*is not valid JSON$/, "$1")
      .replace(/ in JSON at position \d+[\s\S]*$/, "");
    throw new SpecError([{ path: "(json)", message, ...place }], { file, cause });
  }
  // JSON is YAML too: a YAML parse of the same text gives line numbers for schema issues.
  const lineCounter = new (yaml().LineCounter)();
  const document = yaml().parseDocument(text, { lineCounter });
  return { doc, locate: document.errors.length === 0 ? locator(document, lineCounter) : undefined };
}

/** Finds a path's line in the YAML source: the key when the path ends at one, else the nearest node. */
function locator(document: Document, lineCounter: LineCounter): Locate {
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return (target) => {
    for (let length = target.length; length >= 0; length--) {
      const prefix = target.slice(0, length);
      const last = prefix[prefix.length - 1];
      const parent = length === 0 ? undefined : document.getIn(prefix.slice(0, -1), true);
      if (yaml().isMap(parent)) {
        const pair = parent.items.find((item) => yaml().isScalar(item.key) && item.key.value === last);
        if (pair !== undefined && yaml().isNode(pair.key) && pair.key.range) return at(pair.key.range[0]);
      }
      const node = length === 0 ? document.contents : document.getIn(prefix, true);
      if (yaml().isNode(node) && node.range) return at(node.range[0]);
    }
    return undefined;
  };
}

/** Where a YAML parse of bad JSON stumbles: Node's JSON errors do not always give a position. */
function yamlErrorPlace(text: string): { line: number; column: number } | Record<string, never> {
  const lineCounter = new (yaml().LineCounter)();
  const error = yaml().parseDocument(text, { lineCounter, prettyErrors: false }).errors[0];
  if (error === undefined) return {};
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return { line, column: col };
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

function firstLine(message: string): string {
  return message.split("\n", 1)[0] ?? message;
}
