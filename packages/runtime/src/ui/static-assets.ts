/**
 * The page's files (HTML, CSS, JS), shipped in the package's `ui-assets/` folder and read once
 * at start: no CDN, no font download, nothing fetched from elsewhere (issue #14).
 * `src/ui/` and `dist/ui/` sit at the same depth, so one relative URL finds the folder from both.
 */
import { readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

export interface StaticAsset {
  readonly type: string;
  readonly body: Buffer;
}

export function assetsDir(): string {
  return fileURLToPath(new URL("../../ui-assets/", import.meta.url));
}

/** Every file of the assets folder by name (`index.html`, `app.js` …). */
export function loadAssets(dir: string = assetsDir()): ReadonlyMap<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { type, body: readFileSync(`${dir}${name}`) });
  }
  return assets;
}
