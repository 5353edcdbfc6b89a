import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createPartitionChooser } from "../src/pipeline/partition-choice.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const moduleUrl = new URL("../src/pipeline/partition-choice.ts", import.meta.url).href;
const ids = Array.from({ length: 500 }, (_, i) => `in-${i % 3}-${i}`);

/** The partitions another Node process picks for `ids`, asked in reverse order with its own chooser. */
function partitionsInAnotherProcess(partitions: number, keys: readonly string[]): number[] {
  const script = `
    const { createPartitionChooser } = await import(${JSON.stringify(moduleUrl)});
    const ids = JSON.parse(process.argv[1]);
    const choose = createPartitionChooser(${partitions});
    const picked = ids.slice().reverse().map((id) => choose(${JSON.stringify(keys)}, id)).reverse();
    process.stdout.write(JSON.stringify(picked));`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, JSON.stringify(ids)], { cwd: repoRoot, encoding: "utf8" });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout) as number[];
}

describe("partition choice (DESIGN §10)", () => {
  it("puts a keyless message on the partition of its id, the same in two processes whatever they chose before", () => {
    const choose = createPartitionChooser(4);
    const here = ids.map((id) => choose([], id));
    expect(partitionsInAnotherProcess(4, [])).toEqual(here);
    // Still a spread: every partition gets a share of the ids.
    for (let p = 0; p < 4; p += 1) expect(here.filter((partition) => partition === p).length).toBeGreaterThan(ids.length / 8);
  });

  it("puts a keyed message on the partition of its keys, whatever its id", () => {
    const choose = createPartitionChooser(4);
    const here = ids.map((id) => choose(["customer-7"], id));
    expect(new Set(here).size).toBe(1);
    expect(partitionsInAnotherProcess(4, ["customer-7"])).toEqual(here);
  });

  it("sends everything to partition 0 of a one-partition buffer", () => {
    const choose = createPartitionChooser(1);
    expect(new Set(ids.map((id) => choose([], id)))).toEqual(new Set([0]));
  });
});
