/**
 * Issue #11, "the first hour": what a new user types and reads — the version, typos, a closed
 * pipe, a binary file, paths typed in a subdirectory, modules that do not exist, the progress line.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatProgress, progressSnapshot } from "../src/cli/progress.js";
import { emptyCounts } from "../src/observability/vertex-counters.js";
import { ensureBuilt, repoRoot, weirBin } from "./support/weir-cli.js";

function weir(args: readonly string[], cwd = repoRoot) {
  const result = spawnSync(process.execPath, [weirBin, ...args], { cwd, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const spec = (vertices: readonly string[]) =>
  ["apiVersion: weir.dev/v1", "kind: Pipeline", "metadata: { name: usable }", "spec:", "  vertices:", ...vertices.map((v) => `    - ${v}`), "  edges:", "    - { from: in, to: out }", ""].join("\n");

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "weir-usable-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("weir's own words", () => {
  it("--version prints the version of @weir/runtime", () => {
    expect(weir(["--version"])).toEqual({ code: 0, stdout: "weir 0.1.0\n", stderr: "" });
  });

  it("suggests the command meant by a typo, a swap of two letters included", () => {
    expect(weir(["rnu", "demo.yaml"])).toEqual({ code: 2, stdout: "", stderr: "weir: unknown command 'rnu' (did you mean 'run'?); run 'weir --help' for the commands\n" });
  });

  it("suggests the option meant, in Weir's words, not Node's parseArgs text", () => {
    const result = weir(["run", "examples/demo.yaml", "--jsn"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("weir: run: unknown option '--jsn' (did you mean '--json'?); run 'weir run --help' for its options\n");
  });

  it("says to write --inspect=9331 when the port follows a space", () => {
    const result = weir(["run", "examples/demo.yaml", "--inspect", "9331"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^weir: run: write --inspect=9331, with '='/);
  });
});

describe("input a user may hand it", () => {
  it("a binary file is not a text file, in one line", async () => {
    const file = path.join(dir, "picture.png");
    await writeFile(file, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]), Buffer.alloc(128 * 1024, 0xab)]));
    const result = weir(["validate", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`✗ cannot read ${file}: not a text file (a NUL byte at offset 8); a spec is YAML or JSON text\n`);
  });

  it("validate checks what run loads before it starts: a missing module and a misspelt export name the field", async () => {
    await mkdir(path.join(dir, "mods"), { recursive: true });
    await writeFile(path.join(dir, "mods", "map.mjs"), "export function enrich(message) { return [{ value: message.value }]; }\n");
    const file = path.join(dir, "mods", "spec.yaml");
    await writeFile(
      file,
      spec([
        "{ name: in, source: { generator: { total: 1 } } }",
        "{ name: map, udf: { module: { path: ./map.mjs, export: enrihc } } }",
        "{ name: out, sink: { module: { path: ./sink.mjs } } }",
      ]).replace("    - { from: in, to: out }", "    - { from: in, to: map }\n    - { from: map, to: out }"),
    );
    const result = weir(["validate", file]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`  spec.vertices[1].udf.module.export: udf of vertex 'map': ${path.join(dir, "mods", "map.mjs")} has no export 'enrihc'; it exports: enrich`);
    expect(result.stderr).toContain(`  spec.vertices[2].sink.module.path: sink of vertex 'out': module ${path.join(dir, "mods", "sink.mjs")} does not exist`);
  });

  it("a closed stdout (… | head -1) ends the command quietly, exit 0, no EPIPE stack", async () => {
    const file = path.join(dir, "chatty.yaml");
    await writeFile(file, spec(["{ name: in, source: { generator: { total: 20000 } } }", "{ name: out, sink: { log: {} } }"]));
    const result = spawnSync("bash", ["-c", `"${process.execPath}" "${weirBin}" run "${file}" 2>"${dir}/chatty.err" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: "utf8" });
    expect(result.stdout.trim()).toBe("0");
    expect(spawnSync("cat", [`${dir}/chatty.err`], { encoding: "utf8" }).stdout).not.toMatch(/EPIPE|\n\s+at /);
  });
});

describe("paths are the user's", () => {
  it("pnpm weir from a subdirectory reads paths relative to that subdirectory", () => {
    const result = spawnSync("pnpm", ["--silent", "weir", "validate", "demo.yaml"], { cwd: path.join(repoRoot, "examples"), encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("✓ demo: 3 vertices, 2 edges\n");
    expect(result.status).toBe(0);
  });

  it("pnpm exec weir runs the same binary, as the README says", () => {
    const result = spawnSync("pnpm", ["exec", "weir", "validate", "demo.yaml"], { cwd: path.join(repoRoot, "examples"), encoding: "utf8" });
    expect(result.stdout).toBe("✓ demo: 3 vertices, 2 edges\n");
    expect(result.status).toBe(0);
  });
});

describe("the progress line", () => {
  it("shows the rate between two snapshots, not the counters compared with themselves", () => {
    const live = { in: emptyCounts(), out: emptyCounts() };
    const first = progressSnapshot(live, 1_000);
    live.in.acked = 3_000;
    live.out.acked = 1_500;
    const second = progressSnapshot(live, 1_500);
    expect(first.acked).toEqual({ in: 0, out: 0 }); // a copy: the live counters moved on
    expect(formatProgress(first, second)).toBe("in 6K/s 3K acked │ out 3K/s 1.5K acked");
  });

  it("on a terminal (a pseudo-terminal from script(1)) shows a non-zero rate while messages flow", async () => {
    const file = path.join(dir, "paced.yaml");
    // Paced at 2,000/s for 1.5 s: several 500 ms redraws, each with messages in it.
    await writeFile(file, spec(["{ name: in, source: { generator: { total: 3000, rpu: 2000, duration: 1s } } }", "{ name: out, sink: { blackhole: {} } }"]));
    const command = `"${process.execPath}" "${weirBin}" run "${file}"`;
    const result = spawnSync("script", ["-qfec", command, "/dev/null"], { encoding: "utf8" });
    expect(result.status, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/usable completed in/);
    expect(result.stdout).toMatch(/\bout [1-9][\d.]*K?\/s /);
  });
});
