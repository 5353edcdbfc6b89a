/**
 * Issue 11: `weir --help` and `weir validate` start in under 300 ms, and `import "@weir/runtime"`
 * stays under 60 MiB. Durations and RSS are measured in bench/startup.ts; what is guarded here is
 * their cause — what Node loads. Each package named below cost tens of milliseconds or several
 * MiB when it was loaded eagerly; the module counts catch a command that stops loading its own
 * bundled chunk (scripts/bundle.mjs) and goes back to a few hundred separate modules.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadedModules } from "./support/module-log.js";
import { ensureBuilt, repoRoot, weirBin } from "./support/weir-cli.js";

/** Loaded only by the commands and connectors that use them. */
const LAZY_PACKAGES = ["ioredis", "bullmq", "prom-client", "@statelyai/inspect", "ws", "ajv", "tsx"];

beforeAll(() => ensureBuilt());

const weir = (...args: string[]) => loadedModules([weirBin, ...args], repoRoot);

describe("what the weir CLI loads", () => {
  it("weir --help loads its own chunks and @weir/actors' errors, nothing from node_modules", () => {
    const run = weir("--help");
    expect(run.status, run.stderr).toBe(0);
    expect([...run.packages]).toEqual([]);
    const actors = run.files.filter((url) => url.includes("/packages/actors/"));
    expect(actors.map((url) => path.basename(url))).toEqual(["errors.js"]);
    expect(run.files.length).toBeLessThanOrEqual(20);
  });

  it("weir validate loads neither xstate nor the machines nor any lazily loaded package", () => {
    const run = weir("validate", "examples/demo.yaml");
    expect(run.status, run.stderr).toBe(0);
    // zod and yaml are bundled into the CLI's chunks; nothing is read from node_modules.
    expect([...run.packages]).toEqual([]);
    expect(run.files.filter((url) => url.includes("/packages/actors/")).map((url) => path.basename(url))).toEqual(["errors.js"]);
    expect(run.modules).not.toContain("node:tls");
    // ~230 separate modules before the CLI was bundled.
    expect(run.files.length).toBeLessThanOrEqual(40);
  });
});

describe('what import "@weir/runtime" loads', () => {
  it("loads @weir/actors and xstate, and none of ioredis, bullmq, yaml or the other lazily loaded packages", () => {
    const run = loadedModules(["--input-type=module", "-e", 'await import("@weir/runtime");'], repoRoot);
    expect(run.status, run.stderr).toBe(0);
    for (const name of [...LAZY_PACKAGES, "yaml", "zod"]) expect(run.packages, name).not.toContain(name);
    expect([...run.packages]).toEqual(["xstate"]);
    // ~350 separate modules before (zod ~95, yaml ~73, ioredis ~46); one file per lazy part now.
    expect(run.files.length).toBeLessThanOrEqual(60);
  });

  it("keeps the names of its error classes, which WeirError reports as error.name", () => {
    // The bundle keeps names only where module-level names do not collide (scripts/bundle.mjs).
    const script = `const runtime = await import("@weir/runtime");
const errors = Object.entries(runtime).filter(([, value]) => typeof value === "function" && value.prototype instanceof Error);
console.log(JSON.stringify(errors.map(([exported, value]) => [exported, value.name])));`;
    const run = loadedModules(["--input-type=module", "-e", script], repoRoot);
    expect(run.status, run.stderr).toBe(0);
    const names = JSON.parse(run.stdout) as [string, string][];
    expect(names.length).toBeGreaterThan(5);
    for (const [exported, name] of names) expect(name).toBe(exported);
  });
});
