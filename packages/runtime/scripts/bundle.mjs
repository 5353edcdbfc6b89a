/**
 * Runs after `tsc -b` (package.json "build") and bundles, with esbuild, what Node loads at start-up
 * (docs/design-notes.md, "Start-up and memory"; issue 11):
 *
 * - dist/cli-bundle/main.js — the `weir` CLI that `bin/weir.js` runs: one entry plus chunks split at
 *   every `import()`, so a command loads only its own chunk. `weir validate` went from ~230 modules
 *   (zod alone ~95) to ~20 files, and no longer loads xstate or the machines.
 * - dist/lib-bundle/index.js — `import "@weir/runtime"` (package.json "exports"), split the same
 *   way, so the lazily loaded parts stay lazy.
 *
 * tsc's output (dist/index.js, dist/cli/main.js, the .d.ts files) stays as it was: the types come
 * from it, and dist/cli/main.js is a working, unbundled CLI.
 *
 * What stays outside the bundles, loaded from node_modules when needed: the heavy, lazily loaded
 * libraries — bullmq and ioredis (bullmq reads its Lua files next to its modules), prom-client,
 * @statelyai/inspect, ws, ajv, tsx (its loader hooks resolve from its own files) — and
 * @weir/actors, which must stay one instance with the @weir/actors a user imports (`instanceof
 * WeirError` on a user sink's error). zod and yaml are bundled: nothing of theirs crosses the API.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const srcDir = path.join(packageDir, "src");
const distDir = path.join(packageDir, "dist");

const EXTERNAL = ["bullmq", "ioredis", "prom-client", "@statelyai/inspect", "ws", "ajv", "ajv-formats", "tsx", "tsx/*", "@weir/actors"];

// zod's `z` is a namespace object holding all of zod (every locale too), which a bundler keeps
// whole; `import * as z` lets it keep only the schemas the spec uses (same names, same code).
const ZOD_NAMED_NAMESPACE = /^import \{ z \} from "zod";$/m;
const ZOD_STAR_IMPORT = 'import * as z from "zod";';

/**
 * The CLI takes each name it imports from @weir/actors from the module that defines it (read from
 * the package's dist/index.js re-exports): `weir validate` needs WeirError, not every machine and
 * xstate. Those modules are loaded by URL from where @weir/actors is installed, so they are the
 * very modules the package's index re-exports: one WeirError class, whoever imports it.
 */
const actorsDist = fileURLToPath(new URL("../../actors/dist/", import.meta.url));
const actorsIndex = await readFile(path.join(actorsDist, "index.js"), "utf8");
const actorsModuleOf = new Map(
  [...actorsIndex.matchAll(/^export \{([^}]*)\} from "\.\/([^"]+)";$/gm)].flatMap(([, names, file]) =>
    names.split(",").map((name) => [name.trim(), file]),
  ),
);
const ACTORS_IMPORT = /^import \{([^}]*)\} from "@weir\/actors";$/gm;
const ACTORS_MODULE = "weir-actors-module:";

function importActorsByModule(source, file) {
  return source.replace(ACTORS_IMPORT, (statement, list) => {
    const names = list.split(",").map((name) => name.trim()).filter((name) => name !== "");
    const types = names.filter((name) => name.startsWith("type "));
    const byModule = new Map();
    for (const name of names.filter((candidate) => !candidate.startsWith("type "))) {
      const module = actorsModuleOf.get(name.split(" as ")[0].trim());
      if (module === undefined) throw new Error(`${file}: '${name}' is not re-exported by @weir/actors' dist/index.js as 'export { … } from "./…"'`);
      byModule.set(module, [...(byModule.get(module) ?? []), name]);
    }
    const imports = [...byModule].map(([module, moduleNames]) => `import { ${moduleNames.join(", ")} } from "${ACTORS_MODULE}${module}";`);
    if (types.length > 0) imports.push(`import { ${types.join(", ")} } from "@weir/actors";`);
    // As many lines as the statement had, so the source map's lines still match the source.
    return imports.join(" ") + "\n".repeat(statement.split("\n").length - 1);
  });
}

/** A module re-exporting one of @weir/actors' modules, found next to the installed package's index. */
function actorsModuleSource(module) {
  const names = [...actorsModuleOf].filter(([, file]) => file === module).map(([name]) => name);
  return [
    'import { createRequire } from "node:module";',
    'import { pathToFileURL } from "node:url";',
    'const index = createRequire(import.meta.url).resolve("@weir/actors");',
    `export const { ${names.join(", ")} } = await import(new URL(${JSON.stringify(`./${module}`)}, pathToFileURL(index)).href);`,
  ].join("\n");
}

/**
 * - A module of src/ that finds files next to itself (`new URL("../../package.json",
 *   import.meta.url)`, `createRequire(import.meta.url)`) keeps finding them: its `import.meta.url`
 *   becomes the URL tsc's output of it has in dist/, wherever its code lands in the bundle.
 * - zod imports are narrowed; for the CLI, @weir/actors imports too (above).
 */
function rewriteImports({ outDir, actorsByModule }) {
  return {
    name: "rewrite-imports",
    setup(builder) {
      builder.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (!args.path.startsWith(srcDir + path.sep)) return undefined;
        const source = await readFile(args.path, "utf8");
        const compiled = path.join(distDir, path.relative(srcDir, args.path)).replace(/\.ts$/, ".js");
        const fromBundle = path.relative(outDir, compiled).split(path.sep).join("/");
        const url = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
        let contents = source.replaceAll("import.meta.url", url).replace(ZOD_NAMED_NAMESPACE, ZOD_STAR_IMPORT);
        if (actorsByModule) contents = importActorsByModule(contents, args.path);
        return contents === source ? undefined : { contents, loader: "ts" };
      });
      builder.onResolve({ filter: new RegExp(`^${ACTORS_MODULE}`) }, (args) => ({ path: args.path.slice(ACTORS_MODULE.length), namespace: "weir-actors" }));
      builder.onLoad({ filter: /.*/, namespace: "weir-actors" }, (args) => ({ contents: actorsModuleSource(args.path), loader: "js", resolveDir: srcDir }));
    },
  };
}

/** Bundles `entry` (a file of src/) as `name`.js into dist/`dir`/, with its chunks. */
async function bundle({ entry, name, dir, actorsByModule }) {
  const outDir = path.join(distDir, dir);
  await build({
    entryPoints: { [name]: path.join(srcDir, entry) },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: EXTERNAL,
    // Whitespace and syntax only: smaller source compiles faster, while identifiers stay readable
    // in stack traces (WEIR_DEBUG=1). No keepNames: its __name() call per function cost ~20% of
    // `weir validate`'s CPU (zod defines thousands). Names survive without it — esbuild writes
    // `var SpecError = class extends WeirError`, which names the class (WeirError's `error.name`
    // comes from it) — except where two modules' top-level names collide and one is renamed
    // (`LineCounter2`, yaml's, is the only one today).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: "linked",
    // Bundled CommonJS code (yaml) calls require() for Node's built-ins; an ES module has none.
    banner: { js: 'import { createRequire as __weirCreateRequire } from "node:module"; const require = __weirCreateRequire(import.meta.url);' },
    plugins: [rewriteImports({ outDir, actorsByModule })],
    logLevel: "warning",
  });
}

await Promise.all([
  bundle({ entry: "cli/main.ts", name: "main", dir: "cli-bundle", actorsByModule: true }),
  // The library keeps `@weir/actors` whole: createPipeline needs every machine anyway.
  bundle({ entry: "index.ts", name: "index", dir: "lib-bundle", actorsByModule: false }),
]);
