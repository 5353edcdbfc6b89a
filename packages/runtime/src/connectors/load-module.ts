/**
 * Loads an export of a user module: `.js`/`.mjs` with Node's import, `.ts`/`.mts` through tsx,
 * so users can point a spec at TypeScript without a build step. A module loads the same
 * whatever package it sits in (#11): tsx compiles a `.ts` file of a CommonJS package (a
 * package.json without `"type": "module"`) to CommonJS, whose namespace's `default` is the whole
 * exports object `{ __esModule, default, …named }`; that object is unwrapped here.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { ConnectorError } from "./connector-error.js";

export async function importExport(path: string, exportName: string, what: string): Promise<unknown> {
  if (!existsSync(path)) {
    throw new ConnectorError("MODULE_LOAD_FAILED", `${what}: module ${path} does not exist; check the path (relative paths resolve against the spec file)`);
  }
  let namespace: Record<string, unknown>;
  try {
    const loaded = /\.[cm]?tsx?$/.test(path)
      ? ((await (await import("tsx/esm/api")).tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>)
      : ((await import(pathToFileURL(path).href)) as Record<string, unknown>);
    namespace = unwrapCommonJs(loaded);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectorError("MODULE_LOAD_FAILED", `${what}: could not load ${path}: ${reason}`, { cause: error });
  }
  const value = namespace[exportName];
  if (value === undefined) {
    const available = Object.keys(namespace).filter((key) => key !== "__esModule");
    throw new ConnectorError(
      "MODULE_EXPORT_MISSING",
      `${what}: ${path} has no export '${exportName}'; it exports: ${available.length > 0 ? available.join(", ") : "nothing"}`,
    );
  }
  return value;
}

export async function importFunction(path: string, exportName: string, what: string): Promise<(...args: never[]) => unknown> {
  const value = await importExport(path, exportName, what);
  if (typeof value !== "function") {
    throw new ConnectorError("MODULE_EXPORT_INVALID", `${what}: export '${exportName}' of ${path} is a ${typeof value}, not a function`);
  }
  return value as (...args: never[]) => unknown;
}

/**
 * Checks, without running anything but the module's own top level, that `path` exists, loads,
 * and has the export `exportName` (`"default"` for `export default`). Resolves with the export's
 * `typeof` (`"function"`, `"object"`, …); rejects with the `ConnectorError` a run would fail
 * with (`MODULE_LOAD_FAILED`, `MODULE_EXPORT_MISSING`), so `weir validate` can say what `weir
 * run` would. Loading a module runs its top-level code: call it only where running is allowed.
 *
 * @example
 * await checkModuleExport("/srv/pipeline/udfs.ts", "enrich"); // "function"
 */
export async function checkModuleExport(path: string, exportName: string): Promise<string> {
  return typeof (await importExport(path, exportName, `module ${path}`));
}

/** A CommonJS-compiled ES module's exports, as an ES module's namespace would hold them. */
function unwrapCommonJs(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace["default"];
  const isInterop = typeof inner === "object" && inner !== null && (inner as { __esModule?: unknown }).__esModule === true;
  return isInterop ? (inner as Record<string, unknown>) : namespace;
}
