import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WeirError } from "@weir/actors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Command } from "../src/cli/command.js";
import { runCli } from "../src/cli/run-cli.js";
import { SpecError } from "../src/errors.js";
import { captureIO } from "./support/weir-cli.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");
const builtMain = path.join(repoRoot, "packages/runtime/dist/cli/main.js");

const VALID = `apiVersion: weir.dev/v1
kind: Pipeline
metadata: { name: tiny }
spec:
  vertices:
    - { name: in, source: { generator: { total: 10 } } }
    - { name: cat, partitions: 2, udf: { builtin: { name: cat } } }
    - { name: out, sink: { log: {} } }
  edges:
    - { from: in, to: cat }
    - { from: cat, to: out }
`;

function weir(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
beforeAll(async () => {
  // The CLI tests run the built binary; build once if nothing is there yet.
  if (!existsSync(builtMain)) execFileSync("pnpm", ["-w", "build"], { cwd: repoRoot, stdio: "inherit" });
  dir = await mkdtemp(path.join(tmpdir(), "weir-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function specFile(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe("weir validate", () => {
  it("prints a summary line and exits 0 for a valid spec", async () => {
    const file = await specFile("valid.yaml", VALID);
    const { code, stdout, stderr } = weir("validate", file);
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "✓ tiny: 3 vertices, 2 edges\n", stderr: "" });
  });

  it("accepts examples/demo.yaml", () => {
    const { code, stdout } = weir("validate", "examples/demo.yaml");
    expect(code).toBe(0);
    expect(stdout).toBe("✓ demo: 3 vertices, 2 edges\n");
  });

  it("prints every issue on its own line and exits 2 for an invalid spec", async () => {
    const file = await specFile(
      "invalid.yaml",
      VALID.replace("partitions: 2", "partitons: 2").replace("{ from: cat, to: out }", "{ from: cat, to: ot }"),
    );
    const { code, stdout, stderr } = weir("validate", file);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const lines = stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`✗ ${file} is not a valid pipeline:`);
    expect(lines.slice(1)).toEqual([
      `  spec.vertices[1].partitons: unknown field 'partitons' — did you mean 'partitions'? (${file}:7:20)`,
      `  spec.edges[1].to: unknown vertex 'ot' — did you mean 'out'? (vertices are: in, cat, out) (${file}:11:20)`,
    ]);
  });

  it("reports YAML syntax errors with their line", async () => {
    const file = await specFile("syntax.yaml", "apiVersion: weir.dev/v1\nkind: Pipeline\nmetadata:\n  name: x\n   bad: 1\n");
    const { code, stderr } = weir("validate", file);
    expect(code).toBe(2);
    expect(stderr).toContain(`  (yaml): `);
    expect(stderr).toContain(`(${file}:4:`);
  });

  it("says when the file cannot be read", () => {
    const missing = path.join(dir, "missing.yaml");
    const { code, stderr } = weir("validate", missing);
    expect(code).toBe(2);
    expect(stderr).toBe(`✗ cannot read ${missing}: no such file\n`);
  });

  it("is a usage error without a spec", () => {
    const { code, stderr } = weir("validate");
    expect(code).toBe(2);
    expect(stderr).toMatch(/^weir: validate: which spec\?/);
  });

  it("is a usage error with an unknown option", () => {
    const { code, stderr } = weir("validate", "--frobnicate", "x.yaml");
    expect(code).toBe(2);
    expect(stderr).toBe("weir: validate: unknown option '--frobnicate'; run 'weir validate --help' for its options\n");
  });
});

describe("weir", () => {
  it("schema prints the JSON Schema of specs", () => {
    const { code, stdout } = weir("schema");
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { properties?: { spec?: unknown } };
    expect(schema.properties?.spec).toBeDefined();
  });

  it("schema describes issue #15's flow control: rateLimit and ordered, spec-wide and per vertex, and retryLater's attempts", () => {
    interface Node {
      readonly description?: string;
      readonly properties?: Record<string, Node>;
      readonly items?: Node;
    }
    const schema = JSON.parse(weir("schema").stdout) as Node;
    const spec = schema.properties!["spec"]!;
    const vertex = spec.properties!["vertices"]!.items!;
    for (const [where, node] of [
      ["spec", spec],
      ["vertex", vertex],
    ] as const) {
      const rateLimit = node.properties!["limits"]!.properties!["rateLimit"]!;
      expect(rateLimit.description, `${where}.limits.rateLimit`).toMatch(/messages per second/);
      for (const field of ["max", "min", "rampUpDuration", "store", "adaptive"]) expect(rateLimit.properties![field]!.description, `${where}.limits.rateLimit.${field}`).toBeTruthy();
      const ordered = node.properties!["ordered"]!;
      expect(ordered.description, `${where}.ordered`).toMatch(/same keys/);
      expect(ordered.properties!["enabled"]!.description).toBeTruthy();
    }
    // retryLater is an answer, not a field: where it shows in a spec is the retry strategy it counts against.
    const steps = vertex.properties!["retryStrategy"]!.properties!["backoff"]!.properties!["steps"]!;
    expect(steps.description).toMatch(/retryLater/);
  });

  it("--help lists the commands and exits 0", () => {
    const { code, stdout } = weir("--help");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: weir <command>/);
    expect(stdout).toMatch(/\n {2}validate <spec>\.\.\.\n {6}Check pipeline specs/);
    expect(stdout).toMatch(/\n {2}schema\n {6}Print the JSON Schema/);
    expect(stdout).toMatch(/\n {2}reset <spec> \[--yes\] \[--force\]\n {6}Delete a pipeline's Redis buffer keys/);
    expect(weir("help").stdout).toBe(stdout);
  });

  it("an unknown command is a usage error with a suggestion", () => {
    const { code, stdout, stderr } = weir("valdate", "x.yaml");
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe("weir: unknown command 'valdate' (did you mean 'validate'?); run 'weir --help' for the commands\n");
  });

  it("no command prints the usage to stderr and exits 2", () => {
    const { code, stderr } = weir();
    expect(code).toBe(2);
    expect(stderr).toMatch(/^Usage: weir <command>/);
  });
});

describe("runCli", () => {

  const failing = (error: unknown): Command => ({
    name: "boom",
    summary: "fails",
    run: () => Promise.reject(error),
  });

  it("prints a WeirError as one line and exits 1, or 2 for a SpecError", async () => {
    const io = captureIO();
    expect(await runCli(["boom"], io, [failing(new WeirError("SINK_FAILED", "the sink is down"))])).toBe(1);
    expect(io.err()).toBe("weir: the sink is down\n");

    const specIo = captureIO();
    const specError = new SpecError([{ path: "spec.vertices", message: "bad" }]);
    expect(await runCli(["boom"], specIo, [failing(specError)])).toBe(2);
    expect(specIo.err()).toBe("weir: invalid pipeline spec:\n  spec.vertices: bad\n");
  });

  it("reports an unexpected error without its stack unless WEIR_DEBUG is set", async () => {
    const io = captureIO();
    expect(await runCli(["boom"], io, [failing(new TypeError("x is undefined"))])).toBe(1);
    expect(io.err()).toContain("weir: unexpected error: x is undefined\n");
    expect(io.err()).not.toMatch(/\n\s+at /);
  });

  it("shows a command's help for `<command> --help` without running it", async () => {
    const io = captureIO();
    const command: Command = { name: "boom", summary: "Does boom", synopsis: "<thing>", run: () => Promise.reject(new Error("ran")) };
    expect(await runCli(["boom", "--help"], io, [command])).toBe(0);
    expect(io.out()).toBe("Usage: weir boom <thing>\n\nDoes boom\n");
  });
});
