/**
 * Loads an export of a user module: `.js`/`.mjs` with Node's import, `.ts`/`.mts` through tsx,
 * so users can point a spec at TypeScript without a build step.
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
    namespace = /\.[cm]?tsx?$/.test(path)
      ? ((await (await import("tsx/esm/api")).tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>)
      : ((await import(pathToFileURL(path).href)) as Record<string, unknown>);
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
