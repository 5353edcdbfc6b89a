import { readFileSync } from "node:fs";

/**
 * `weir --version`: the version of @weir/runtime, read from its package.json — two levels up
 * from both src/cli and dist/cli — so it cannot drift from what is installed.
 */
export function weirVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
