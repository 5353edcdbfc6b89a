import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpecError } from "../src/errors.js";
import { loadSpec } from "../src/spec/load-spec.js";
import { validateCommand } from "../src/cli/commands/validate.js";

// Issue 7 (security): a spec's module paths resolve only inside the spec's directory unless
// --allow-modules-outside (loadSpec's allowModulesOutside) says otherwise.
describe("module paths outside the spec's directory", () => {
  let dir: string;
  const spec = (sink: string) =>
    [
      "apiVersion: weir.dev/v1",
      "kind: Pipeline",
      "metadata: { name: paths }",
      "spec:",
      "  vertices:",
      "    - { name: in, source: { generator: { total: 1 } } }",
      `    - { name: out, sink: ${sink} }`,
      "  edges:",
      "    - { from: in, to: out }",
      "",
    ].join("\n");
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "weir-paths-"));
    await mkdir(path.join(dir, "specs", "lib"), { recursive: true });
    await writeFile(path.join(dir, "specs", "outside.yaml"), spec("{ module: { path: ../evil.mjs } }"));
    await writeFile(path.join(dir, "specs", "absolute.yaml"), spec("{ module: { path: /tmp/evil.mjs } }"));
    await writeFile(path.join(dir, "specs", "inside.yaml"), spec("{ module: { path: ./lib/sink.mjs } }"));
    await writeFile(path.join(dir, "specs", "process.yaml"), spec("{ process: { command: [python3, ../../sink.py] } }"));
    await writeFile(path.join(dir, "specs", "dotdot-name.yaml"), spec("{ module: { path: ./..sink.mjs } }"));
    // The accepted specs' modules exist, so only their location can make them fail.
    const sink = "export default async (messages) => messages.map((m) => ({ id: m.id, status: 'ok' }));\n";
    await writeFile(path.join(dir, "specs", "lib", "sink.mjs"), sink);
    await writeFile(path.join(dir, "specs", "..sink.mjs"), sink);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it.each(["outside", "absolute", "process"])("rejects the %s spec with the field's path and the flag to pass", async (name) => {
    const error = await loadSpec(path.join(dir, "specs", `${name}.yaml`)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecError);
    const issue = (error as SpecError).issues[0]!;
    expect(issue.path).toMatch(/^spec\.vertices\[1\]\.sink\.(module\.path|process\.command\[1\])$/);
    expect(issue.hint).toContain("--allow-modules-outside");
    expect(issue.line).toBe(7);
  });

  it("accepts modules inside the spec's directory, including names that start with '..'", async () => {
    // Resolved against the spec's directory, and `./..sink.mjs` is a file there, not the parent directory.
    const inside = await loadSpec(path.join(dir, "specs", "inside.yaml"));
    expect(inside.spec.spec.vertices[1]).toMatchObject({ sink: { module: { path: path.join(dir, "specs", "lib", "sink.mjs") } } });
    const dotdot = await loadSpec(path.join(dir, "specs", "dotdot-name.yaml"));
    expect(dotdot.spec.spec.vertices[1]).toMatchObject({ sink: { module: { path: path.join(dir, "specs", "..sink.mjs") } } });
  });

  it("accepts them anywhere with allowModulesOutside", async () => {
    const { spec: loaded } = await loadSpec(path.join(dir, "specs", "outside.yaml"), { allowModulesOutside: true });
    expect(loaded.spec.vertices[1]).toMatchObject({ sink: { module: { path: path.join(dir, "evil.mjs") } } });
  });

  it("weir validate rejects it (exit 2) and accepts it with --allow-modules-outside", async () => {
    const out: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) }, isTTY: false };
    const file = path.join(dir, "specs", "outside.yaml");
    expect(await validateCommand.run([file], io as never)).toBe(2);
    expect(out.join("")).toContain("pass --allow-modules-outside");
    expect(await validateCommand.run([file, "--allow-modules-outside"], io as never)).toBe(0);
  });
});
