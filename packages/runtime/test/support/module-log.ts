/**
 * Which modules a Node process loads: runs `node <args>` with a preload that records every ES
 * module Node loads (a `load` hook) and, when the process exits, every CommonJS module in the
 * require cache (a `require()` of a CommonJS package passes no ES module hook). For tests that
 * guard start-up cost by what is loaded, not by how long it takes (issue 11).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const hooks = `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.WEIR_MODULE_LOG, url + "\\n");
  return next(url, context);
}`;

const preload = `import { register, createRequire } from "node:module";
import { appendFileSync } from "node:fs";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
// The require cache is one per process; any absolute path makes a require that sees it.
const cache = createRequire(process.cwd() + "/").cache;
process.on("exit", () => appendFileSync(process.env.WEIR_MODULE_LOG, Object.keys(cache).map((file) => "file://" + file + "\\n").join("")));`;

export interface ModuleLog {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every module loaded, as URLs (`file:///…`, `node:…`), each once, in load order. */
  readonly modules: readonly string[];
  /** The files among `modules` (Node's built-ins left out). */
  readonly files: readonly string[];
  /** The npm packages `files` come from, by name (`zod`, `@statelyai/inspect`). */
  readonly packages: ReadonlySet<string>;
}

/** Runs `node <args>` in `cwd` and reports what it loaded. */
export function loadedModules(args: readonly string[], cwd: string): ModuleLog {
  const dir = mkdtempSync(path.join(tmpdir(), "weir-modules-"));
  const log = path.join(dir, "modules.log");
  try {
    const child = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(preload)}`, ...args], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, WEIR_MODULE_LOG: log },
    });
    const modules = [...new Set(readFileSync(log, "utf8").split("\n").filter((line) => line !== "" && !line.startsWith("data:")))];
    const files = modules.filter((url) => url.startsWith("file:"));
    return { status: child.status, stdout: child.stdout, stderr: child.stderr, modules, files, packages: new Set(files.flatMap(packageOf)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The package a file belongs to: the name after the last `node_modules/` in its path. */
function packageOf(url: string): string[] {
  const file = fileURLToPath(url);
  const at = file.lastIndexOf(`node_modules${path.sep}`);
  if (at === -1) return [];
  const [first, second] = file.slice(at + "node_modules/".length).split(path.sep);
  if (first === undefined || first === ".pnpm") return [];
  return [first.startsWith("@") ? `${first}/${second ?? ""}` : first];
}
