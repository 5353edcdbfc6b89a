/**
 * The dashboard's flags and `weir ui`'s refusals, in-process: wrong input is a usage error
 * (exit 2) that says what to do, before anything starts.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commands } from "../src/cli/commands/index.js";
import { runCli } from "../src/cli/run-cli.js";
import { captureIO, repoRoot } from "./support/weir-cli.js";

const demo = path.join(repoRoot, "examples/demo.yaml");

describe("weir run --ui and weir ui", () => {
  it("rejects --ui-host without --ui", async () => {
    const io = captureIO();
    expect(await runCli(["run", demo, "--ui-host", "0.0.0.0"], io, commands)).toBe(2);
    expect(io.err()).toContain("--ui-host and --ui-token need --ui");
  });

  it("rejects a --ui port that is no port", async () => {
    const io = captureIO();
    expect(await runCli(["run", demo, "--ui=http"], io, commands)).toBe(2);
    expect(io.err()).toContain("--ui takes a port from 0 to 65535 (0 picks a free one); got 'http'");
  });

  it("rejects a short --ui-token", async () => {
    const io = captureIO();
    expect(await runCli(["run", demo, "--ui=0", "--ui-host", "0.0.0.0", "--ui-token", "abc"], io, commands)).toBe(2);
    expect(io.err()).toContain("--ui-token must be at least 16 characters");
  });

  it("weir ui refuses a pipeline on the memory buffer and names the command to use", async () => {
    const io = captureIO();
    expect(await runCli(["ui", demo, "--port", "0"], io, commands)).toBe(1);
    expect(io.err()).toContain("weir ui attaches to workers on a Redis buffer");
    expect(io.err()).toContain("weir run <spec> --ui");
  });

  it("weir --help lists ui, and weir run --help documents --ui", async () => {
    const io = captureIO();
    expect(await runCli(["--help"], io, commands)).toBe(0);
    expect(io.out()).toContain("  ui <spec>");
    const runHelp = captureIO();
    expect(await runCli(["run", "--help"], runHelp, commands)).toBe(0);
    expect(runHelp.out()).toContain("--ui[=<port>]");
  });
});
