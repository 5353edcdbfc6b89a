/**
 * #10 item 12: what a handed-over spec may make Weir run or write. Process commands' path
 * arguments and jsonl files outside the spec's directory need --allow-modules-outside; --no-exec
 * refuses every process vertex and module; `sh -c` strings are not checked (docs say so).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpecError } from "../src/errors.js";
import { loadSpec } from "../src/spec/load-spec.js";
import { runCommand } from "../src/cli/commands/run.js";
import { validateCommand } from "../src/cli/commands/validate.js";
import { captureIO } from "./support/weir-cli.js";

let dir: string;
let specs: string;
const write = async (name: string, sink: string) => {
  const text = [
    "apiVersion: weir.dev/v1",
    "kind: Pipeline",
    "metadata: { name: guard }",
    "spec:",
    "  vertices:",
    "    - { name: in, source: { generator: { total: 1 } } }",
    `    - { name: out, sink: ${sink} }`,
    "  edges:",
    "    - { from: in, to: out }",
    "",
  ].join("\n");
  await writeFile(path.join(specs, `${name}.yaml`), text);
  return path.join(specs, `${name}.yaml`);
};
const load = (file: string, options: Parameters<typeof loadSpec>[1] = {}) => loadSpec(file, options);
const refusal = async (file: string, options: Parameters<typeof loadSpec>[1] = {}) => {
  const error = await load(file, options).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(SpecError);
  return (error as SpecError).issues;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-guard-"));
  specs = path.join(dir, "specs");
  await mkdir(path.join(specs, "lib"), { recursive: true });
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("process commands and jsonl files outside the spec's directory", () => {
  it.each([
    ["an interpreter's absolute script", "{ process: { command: [node, /tmp/outside.mjs] } }", "sink.process.command[1]", "the process argument /tmp/outside.mjs"],
    ["a program by absolute path", "{ process: { command: [/tmp/evil-bin, run] } }", "sink.process.command[0]", "the program /tmp/evil-bin"],
    ["a relative path that climbs out", "{ process: { command: [python3, lib/../../x.py] } }", "sink.process.command[1]", "the process argument"],
    ["a jsonl sink", "{ jsonl: { path: /tmp/weir-guard-out.jsonl } }", "sink.jsonl.path", "the jsonl file /tmp/weir-guard-out.jsonl"],
  ])("refuses %s, naming the field and the flag", async (_what, sink, field, message) => {
    const issues = await refusal(await write(`out-${field.replace(/\W/g, "")}-${sink.length}`, sink));
    expect(issues[0]!.path).toBe(`spec.vertices[1].${field}`);
    expect(issues[0]!.message).toContain(message);
    expect(issues[0]!.message).toContain("outside the spec's directory");
    expect(issues[0]!.hint).toContain("--allow-modules-outside");
    expect(issues[0]!.line).toBe(7);
  });

  it("refuses a jsonl fallback outside the spec's directory", async () => {
    const file = await write("fallback", "{ blackhole: {}, retryStrategy: { onFailure: fallback }, fallback: { jsonl: { path: ../dead.jsonl } } }");
    const issues = await refusal(file);
    expect(issues.map((issue) => issue.path)).toContain("spec.vertices[1].fallback.jsonl.path");
  });

  it("accepts paths inside, bare words (PATH programs, files in cwd) and flags; and anything with allowModulesOutside", async () => {
    await expect(load(await write("inside-1", "{ process: { command: [python3, sink.py, --verbose] } }"))).resolves.toBeDefined();
    await expect(load(await write("inside-2", "{ process: { command: [node, ./lib/sink.mjs] } }"))).resolves.toBeDefined();
    await expect(load(await write("inside-3", "{ jsonl: { path: out/received.jsonl } }"))).resolves.toBeDefined();
    const outside = await write("outside-ok", "{ process: { command: [node, /tmp/outside.mjs] } }");
    await expect(load(outside, { allowModulesOutside: true })).resolves.toBeDefined();
  });

  it("does not see into a string a shell runs (the documented limit): --no-exec is the guard for that", async () => {
    const shell = await write("shell", '{ process: { command: [sh, -c, "node /tmp/outside.mjs"] } }');
    await expect(load(shell)).resolves.toBeDefined();
    const issues = await refusal(shell, { noExec: true });
    expect(issues[0]!.path).toBe("spec.vertices[1].sink.process");
    expect(issues[0]!.message).toContain("--no-exec");
  });
});

describe("--no-exec", () => {
  it("refuses process udfs and sinks, module udfs, sinks and schemas, and accepts built-ins", async () => {
    const processSink = await write("noexec-process", "{ process: { command: [python3, sink.py] } }");
    expect((await refusal(processSink, { noExec: true }))[0]!.path).toBe("spec.vertices[1].sink.process");
    const moduleSink = await write("noexec-module", "{ module: { path: ./lib/sink.mjs } }");
    expect((await refusal(moduleSink, { noExec: true }))[0]!.path).toBe("spec.vertices[1].sink.module");
    const schema = await write("noexec-schema", "{ log: {}, retryStrategy: { onFailure: fallback }, fallback: { log: {} } }, schema: { module: { path: ./lib/schema.mjs } }");
    expect((await refusal(schema, { noExec: true })).map((issue) => issue.path)).toContain("spec.vertices[1].schema.module");
    const builtins = await write("noexec-builtins", "{ jsonl: { path: out.jsonl } }");
    await expect(load(builtins, { noExec: true })).resolves.toBeDefined();
  });

  it("weir validate --no-exec exits 2 naming the field; weir run --no-exec refuses before anything starts", async () => {
    const file = await write("noexec-cli", "{ process: { command: [python3, sink.py] } }");
    const io = captureIO();
    expect(await validateCommand.run([file], io)).toBe(0);
    expect(await validateCommand.run([file, "--no-exec"], io)).toBe(2);
    expect(io.err()).toContain("spec.vertices[1].sink.process");
    expect(io.err()).toContain("--no-exec");
    const run = captureIO();
    await expect(runCommand.run([file, "--no-exec"], run)).rejects.toBeInstanceOf(SpecError);
  });
});
