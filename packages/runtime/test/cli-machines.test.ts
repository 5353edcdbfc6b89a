import { describe, expect, it } from "vitest";
import { commands } from "../src/cli/commands/index.js";
import { runCli } from "../src/cli/run-cli.js";
import { captureIO } from "./support/weir-cli.js";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIO();
  const code = await runCli(args, io, commands);
  return { code, stdout: io.out(), stderr: io.err() };
}

describe("weir machines", () => {
  it("exports the machines' XState definitions with --json, a reduce vertex's window keeper included", async () => {
    const result = await cli(["machines", "--json"]);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { format: string; machines: Array<{ id: string; definition: { id: string; states: Record<string, unknown> } }> };
    expect(out.format).toBe("weir.machines/v1");
    expect(out.machines.map((machine) => machine.id)).toEqual(["supervisor", "partitionReader", "batcher", "sinkSession", "windowKeeper"]);
    const byId = Object.fromEntries(out.machines.map((machine) => [machine.id, machine.definition]));
    expect(Object.keys(byId["supervisor"]!.states)).toEqual(expect.arrayContaining(["running", "draining", "stopped", "failed"]));
    expect(Object.keys(byId["batcher"]!.states)).toEqual(expect.arrayContaining(["collecting", "flushing", "eotSent"]));
    expect(Object.keys(byId["windowKeeper"]!.states)).toEqual(["idle", "committing", "closing", "emitting", "forgetting", "failed"]);
    expect(Object.keys(byId["sinkSession"]!.states)).toEqual(expect.arrayContaining(["idle", "writing", "awaitingResults", "eotReceived", "retrying", "protocolError", "done"]));
    expect(Object.keys(byId["partitionReader"]!.states)).toEqual(expect.arrayContaining(["active", "stopped", "failed"]));
  });

  it("describes one machine in text and rejects an unknown id", async () => {
    const text = await cli(["machines", "batcher"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^batcher\n {2}states: +collecting, flushing, eotSent/);
    expect(text.stdout).toContain("reader.batchRead");
    const unknown = await cli(["machines", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no machine 'nope'");
  });

});
