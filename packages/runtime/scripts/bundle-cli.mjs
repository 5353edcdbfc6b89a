/**
 * Bundles the `weir` CLI (src/cli/main.ts) into dist/cli-bundle/: one entry file plus chunks,
 * split at every `import()`, so a command loads only its own chunk (docs/design-notes.md,
 * "Start-up"). `bin/weir.js` runs the bundle; dist/cli/main.js (tsc's output) stays a working,
 * unbundled entry.
 *
 * Why: Node spends most of `weir validate`'s start-up resolving, reading and compiling ~230 small
 * ES modules (zod alone is ~95) and running @weir/actors' machine definitions it never uses.
 * One file per command, tree-shaken and minified, is a fraction of that.
 *
 * What stays outside the bundle (loaded from node_modules when a command needs it): the heavy,
 * lazily loaded libraries — bullmq and ioredis (bullmq reads its Lua files next to its own
 * modules), prom-client, @statelyai/inspect, ws, ajv, tsx (its loader hooks must resolve from
 * its own files).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const srcDir = path.join(packageDir, "src");
const distDir = path.join(packageDir, "dist");
const outDir = path.join(distDir, "cli-bundle");

const EXTERNAL = ["bullmq", "ioredis", "prom-client", "@statelyai/inspect", "ws", "ajv", "ajv-formats", "tsx", "tsx/*"];

/**
 * A module of src/ that finds files next to itself (`new URL("../../package.json",
 * import.meta.url)`, `createRequire(import.meta.url)`) keeps finding them: its `import.meta.url`
 * becomes the URL tsc's output of it has in dist/, wherever its code lands in the bundle.
 * It also narrows the imports of zod and @weir/actors (below).
 */
const rewriteImports = {
  name: "rewrite-imports",
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(srcDir + path.sep)) return undefined;
      const source = await readFile(args.path, "utf8");
      const compiled = path.join(distDir, path.relative(srcDir, args.path)).replace(/\.ts$/, ".js");
      const fromBundle = path.relative(outDir, compiled).split(path.sep).join("/");
      const url = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
      const contents = importActorsByModule(source.replaceAll("import.meta.url", url).replace(ZOD_NAMED_NAMESPACE, ZOD_STAR_IMPORT), args.path);
      return contents === source ? undefined : { contents, loader: "ts" };
    });
  },
};

// zod's `z` is a namespace object holding all of zod (every locale too), which a bundler keeps
// whole; `import * as z` lets it keep only the schemas the spec uses (same names, same code).
const ZOD_NAMED_NAMESPACE = /^import \{ z \} from "zod";$/m;
const ZOD_STAR_IMPORT = 'import * as z from "zod";';

/**
 * `import { WeirError } from "@weir/actors"` would put all of @weir/actors — every machine, and
 * xstate — in the chunk of every command: a bundler splits by module, and the package's index
 * reaches every module. Each named import is taken from the module the index re-exports it from
 * (read from dist/index.js), so `weir validate` loads errors.js and not the machines.
 */
const actorsDist = fileURLToPath(new URL("../../actors/dist/", import.meta.url));
const actorsIndex = await readFile(path.join(actorsDist, "index.js"), "utf8");
const actorsModuleOf = new Map(
  [...actorsIndex.matchAll(/^export \{([^}]*)\} from "(\.\/[^"]+)";$/gm)].flatMap(([, names, file]) =>
    names.split(",").map((name) => [name.trim(), path.join(actorsDist, file)]),
  ),
);
const ACTORS_IMPORT = /^import \{([^}]*)\} from "@weir\/actors";$/gm;

function importActorsByModule(source, file) {
  return source.replace(ACTORS_IMPORT, (statement, list) => {
    const names = list.split(",").map((name) => name.trim()).filter((name) => name !== "");
    const types = names.filter((name) => name.startsWith("type "));
    const values = names.filter((name) => !name.startsWith("type "));
    const byModule = new Map();
    for (const name of values) {
      const module = actorsModuleOf.get(name.split(" as ")[0].trim());
      if (module === undefined) throw new Error(`${file}: '${name}' is not re-exported by @weir/actors' dist/index.js in the form 'export { … } from "./…"'`);
      byModule.set(module, [...(byModule.get(module) ?? []), name]);
    }
    const imports = [...byModule].map(([module, moduleNames]) => `import { ${moduleNames.join(", ")} } from ${JSON.stringify(module)};`);
    if (types.length > 0) imports.push(`import { ${types.join(", ")} } from "@weir/actors";`);
    // As many lines as the statement had, so the source map's lines still match the source.
    return imports.join(" ") + "\n".repeat(statement.split("\n").length - 1);
  });
}

await build({
  entryPoints: { main: path.join(srcDir, "cli/main.ts") },
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: EXTERNAL,
  // Whitespace and syntax only: smaller source compiles faster, while names stay readable in
  // stack traces (WEIR_DEBUG=1) and in `error.name`.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: "linked",
  // Bundled CommonJS code (yaml) calls require() for Node's built-ins; an ES module has none.
  banner: { js: 'import { createRequire as __weirCreateRequire } from "node:module"; const require = __weirCreateRequire(import.meta.url);' },
  plugins: [rewriteImports],
  logLevel: "warning",
});
