/**
 * Issue #11: the docs' TypeScript snippets compile under `tsc --strict`. Every ```ts block of
 * README.md, docs/*.md and examples/**\/README.md is written to a module of its own and
 * typechecked, with the repository's compiler options, against the packages' built types (what
 * a user compiles against; `pnpm test` builds first) — so a renamed export or a changed
 * signature breaks this test instead of a reader's first try.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, repoRoot } from "./support/weir-cli.js";

interface Snippet {
  /** `README.md:296`: the file, relative to the repository, and the line of the opening fence. */
  readonly where: string;
  readonly code: string;
}

/** The ```ts / ```typescript blocks of one Markdown file. */
export function extractTsBlocks(file: string, text: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(?:ts|typescript)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    snippets.push({ where: `${file}:${i + 1}`, code: body.join("\n") });
    i = j;
  }
  return snippets;
}

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for (const name of await readdir(path.join(repoRoot, "docs"))) if (name.endsWith(".md")) files.push(`docs/${name}`);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(path.join(repoRoot, dir), { withFileTypes: true })) {
      if (entry.name === "node_modules") continue;
      const relative = `${dir}/${entry.name}`;
      if (entry.isDirectory()) await walk(relative);
      else if (entry.name === "README.md") files.push(relative);
    }
  };
  await walk("examples");
  return files;
}

const types = (pkg: string) => path.join(repoRoot, `packages/${pkg}/dist/index.d.ts`);

/** tsconfig.base.json's checks, without emit, with `@weir/*` mapped to the packages' declarations. */
const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  esModuleInterop: true,
  skipLibCheck: true,
  verbatimModuleSyntax: true,
  noEmit: true,
  types: ["node"],
  typeRoots: [path.join(repoRoot, "node_modules/@types")],
  paths: { "@weir/actors": [types("actors")], "@weir/runtime": [types("runtime")], "@weir/testkit": [types("testkit")] },
};

describe("the docs' TypeScript snippets", () => {
  let dir: string;
  const snippets: Snippet[] = [];

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-snippets-"));
    for (const file of await markdownFiles()) snippets.push(...extractTsBlocks(file, await readFile(path.join(repoRoot, file), "utf8")));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("extracts fenced ts blocks, indented ones too, with the line of their fence", () => {
    const text = "# t\n\n```ts\nconst a = 1;\n```\n\n- item\n\n  ```typescript\n  const b: string = 'x';\n  ```\n```sh\nls\n```\n";
    expect(extractTsBlocks("x.md", text)).toEqual([
      { where: "x.md:3", code: "const a = 1;" },
      { where: "x.md:9", code: "const b: string = 'x';" },
    ]);
  });

  it("every snippet compiles under tsc --strict against the packages' types", async () => {
    expect(snippets.length, "README.md and docs/ hold ts snippets").toBeGreaterThanOrEqual(3);
    const files = new Map<string, Snippet>();
    for (const [index, snippet] of snippets.entries()) {
      // .mts: an ES module wherever it sits (top-level await); `export {}` makes a script a module.
      const file = path.join(dir, `snippet-${index}.mts`);
      await writeFile(file, `${snippet.code}\nexport {};\n`);
      files.set(file, snippet);
    }
    const program = ts.createProgram([...files.keys()], compilerOptions);
    // Only the snippets' diagnostics: checking every source file of the packages is the typecheck's job (and slow).
    const problems = [...files.keys()]
      .map((file) => program.getSourceFile(file)!)
      .flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)])
      .map((diagnostic) => {
        const snippet = files.get(path.normalize(diagnostic.file!.fileName))!;
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        return `${snippet.where} (+${line + 1}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});
