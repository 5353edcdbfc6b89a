/**
 * #11: user modules load the same whatever package they sit in. A TypeScript sink with
 * `export default async function …` in a package without `"type": "module"` was loaded by tsx as
 * CommonJS, and the namespace's default was `{ default: fn }`: the run failed blaming the function.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPipeline, parseSpec } from "@weir/runtime";
import { ConnectorError } from "../src/connectors/connector-error.js";
import { checkModuleExport, importExport } from "../src/connectors/load-module.js";

const SINK = [
  "export default async function sink(messages: ReadonlyArray<{ id: string }>) {",
  "  return messages.map((message) => ({ id: message.id, status: 'ok' as const }));",
  "}",
  "export const shout = (text: string): string => text.toUpperCase();",
  "",
].join("\n");

let dir: string;
const packages = {
  "no type": { name: "plain" },
  commonjs: { name: "cjs", type: "commonjs" },
  module: { name: "esm", type: "module" },
} as const;
const sinkIn = (kind: keyof typeof packages) => path.join(dir, kind.replace(" ", "-"), "sink.ts");

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-modules-"));
  for (const [kind, manifest] of Object.entries(packages)) {
    const file = sinkIn(kind as keyof typeof packages);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(path.join(path.dirname(file), "package.json"), JSON.stringify(manifest));
    await writeFile(file, SINK);
  }
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("user modules load the same in any package", () => {
  for (const kind of Object.keys(packages) as Array<keyof typeof packages>) {
    it(`a .ts module in a package with ${kind === "no type" ? "no \"type\"" : `"type": "${kind}"`}: default and named exports are the functions`, async () => {
      const sink = (await importExport(sinkIn(kind), "default", "sink")) as (messages: Array<{ id: string }>) => Promise<unknown>;
      expect(typeof sink).toBe("function");
      expect(await sink([{ id: "a" }])).toEqual([{ id: "a", status: "ok" }]);
      const shout = (await importExport(sinkIn(kind), "shout", "udf")) as (text: string) => string;
      expect(shout("hi")).toBe("HI");
    });
  }

  it("a pipeline whose module sink is `export default async function` in a CommonJS package delivers every message", async () => {
    const { spec } = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "cjs-sink" },
        spec: {
          vertices: [
            { name: "in", source: { generator: { total: 50, rpu: 10_000_000 } } },
            { name: "out", sink: { module: { path: sinkIn("commonjs"), export: "default" } } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    const summary = await createPipeline(spec).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 50, fallback: 0, dropped: 0 });
  });
});

describe("checkModuleExport (for weir validate)", () => {
  it("resolves with the export's type when the file loads and has it", async () => {
    expect(await checkModuleExport(sinkIn("no type"), "default")).toBe("function");
    expect(await checkModuleExport(sinkIn("module"), "shout")).toBe("function");
  });

  it("rejects a missing file and a misspelt export with the error a run would give", async () => {
    const missing = await checkModuleExport(path.join(dir, "nope.ts"), "default").catch((caught: unknown) => caught);
    expect(missing).toBeInstanceOf(ConnectorError);
    expect((missing as ConnectorError).code).toBe("MODULE_LOAD_FAILED");
    expect((missing as Error).message).toContain("does not exist");
    const misspelt = await checkModuleExport(sinkIn("commonjs"), "shuot").catch((caught: unknown) => caught);
    expect((misspelt as ConnectorError).code).toBe("MODULE_EXPORT_MISSING");
    expect((misspelt as Error).message).toMatch(/has no export 'shuot'; it exports: default, shout$/);
  });
});
