/**
 * #11: every example runs by the command its own header documents, from the repository root,
 * with the built `weir` (run `pnpm build` first). A new file under examples/ fails the last test
 * until this file says how it is exercised.
 */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkModuleExport } from "../src/connectors/load-module.js";
import { ensureBuilt, repoRoot, weirBin } from "./support/weir-cli.js";

const examples = path.join(repoRoot, "examples");

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; `onLine` sees stdout lines as they come (to drive a server). */
function runToEnd(args: readonly string[], env: NodeJS.ProcessEnv = {}, onLine?: (line: string) => void): Promise<Finished> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine?.(line);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** The `weir …` commands a spec's header comment documents (`#   weir run examples/x.yaml`). */
async function documentedCommands(spec: string): Promise<string[][]> {
  const header = (await readFile(spec, "utf8")).split("\n").filter((line) => line.startsWith("#"));
  return header.flatMap((line) => {
    const match = /^#\s+weir (validate|run) (\S+)\s*$/.exec(line);
    return match === null ? [] : [[match[1]!, match[2]!]];
  });
}

async function specsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((entry) => /\.ya?ml$/.test(entry)).map((entry) => path.join(dir, entry));
}

beforeAll(() => ensureBuilt());
// Found when the file is collected, so each spec is its own test (and its own timeout).
const specs = await specsUnder(examples);

describe("every example runs by its documented command", () => {
  it("finds the specs", () => expect(specs.length).toBeGreaterThan(0));
  for (const spec of specs) {
    const relative = path.relative(repoRoot, spec);
    it(`${relative}: documents \`weir run\`, and every documented weir command passes from the repository root`, { timeout: 240_000 }, async () => {
      const commands = await documentedCommands(spec);
      expect(commands, `${relative} documents no weir run command`).toContainEqual(["run", relative]);
      for (const command of commands) {
        const result = await runToEnd([weirBin, ...command]);
        expect(result.code, `weir ${command.join(" ")} exited ${result.code}: ${result.stderr}`).toBe(0);
        if (command[0] === "run") expect(result.stdout).toMatch(/ completed in /);
      }
    });
  }

  it("examples/embed/main.ts: started as documented, takes orders over HTTP and exits 0 once drained", { timeout: 120_000 }, async () => {
    const header = await readFile(path.join(examples, "embed", "main.ts"), "utf8");
    expect(header).toContain("node --import tsx examples/embed/main.ts");
    let posted: Promise<unknown> | undefined;
    const result = await runToEnd(["--import", "tsx", "examples/embed/main.ts"], { PORT: "0" }, (line) => {
      const url = /orders service on (http:\/\/\S+)/.exec(line)?.[1];
      if (url === undefined) return;
      posted = (async () => {
        const orders = [{ item: "tea", qty: 2 }, { item: "jam", qty: 12 }, { item: "caviar", qty: 1 }];
        await fetch(`${url}/orders`, { method: "POST", body: JSON.stringify(orders), headers: { "content-type": "application/json" } });
        await fetch(`${url}/drain`, { method: "POST" });
      })();
    });
    await posted;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^done: /m);
  });

  it("examples/udfs.ts exports the map the demo's comment names", async () => {
    const demo = await readFile(path.join(examples, "demo.yaml"), "utf8");
    expect(demo).toContain("{ module: { path: ./udfs.ts, export: enrich } }");
    expect(await checkModuleExport(path.join(examples, "udfs.ts"), "enrich")).toBe("function");
  });

  // docs/flow-control.md's examples (issue #15): what each spec's header promises, from the run's summary.
  const summaryOf = async (spec: string) => {
    const result = await runToEnd([weirBin, "run", spec, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout.trim().split("\n").pop()!) as { status: string; vertices: Record<string, Record<string, number>> };
  };

  it("examples/flow-control/ordered.yaml: every key arrives in order (no fallback), behind held-back messages", { timeout: 120_000 }, async () => {
    const summary = await summaryOf("examples/flow-control/ordered.yaml");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: 2000, fallback: 0, dropped: 0 });
    expect(summary.vertices["out"]!["heldBack"]).toBeGreaterThan(0);
  });

  it("examples/flow-control/retry-later.yaml: the udf's and the sink's retryLater answers are parked and come back", { timeout: 120_000 }, async () => {
    const summary = await summaryOf("examples/flow-control/retry-later.yaml");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["enrich"]).toMatchObject({ ok: 200, retriedLater: 5, dropped: 0 });
    expect(summary.vertices["out"]).toMatchObject({ ok: 200, retriedLater: 20, dropped: 0 });
  });

  it("examples/flow-control/rate-limit.yaml: both vertices read everything under their limits", { timeout: 120_000 }, async () => {
    const summary = await summaryOf("examples/flow-control/rate-limit.yaml");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ read: 600, ok: 600 });
  });

  // docs/reduce.md's examples (issue #13): every message is counted once, none is late.
  it("examples/reduce/counts.yaml: 3000 messages counted per key and 1 s window, none late", { timeout: 120_000 }, async () => {
    const summary = await summaryOf("examples/reduce/counts.yaml");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["counts"]).toMatchObject({ read: 3000, ok: 3000, fallback: 0, late: 0, dropped: 0 });
    expect(summary.vertices["out"]!["ok"]).toBeGreaterThanOrEqual(100); // at least one window per key
  });

  it("examples/reduce/sessions.yaml: the module reducer averages every message into a session", { timeout: 120_000 }, async () => {
    const summary = await summaryOf("examples/reduce/sessions.yaml");
    expect(summary.status).toBe("completed");
    expect(summary.vertices["averages"]).toMatchObject({ read: 600, ok: 600, fallback: 0, late: 0, dropped: 0 });
    expect(summary.vertices["out"]!["ok"]).toBeGreaterThanOrEqual(10); // at least one session per key
  });

  it("every file under examples/ is exercised here or by a named test", async () => {
    const exercised = new Set([
      "demo.yaml",
      "python.yaml",
      "udfs.ts",
      "embed/main.ts",
      "embed/README.md",
      "embed/orders-service.ts", // embed.test.ts
      "embed/embed.test.ts",
      "python-map/map.py", // python.yaml
      "python-sink/sink.py", // python.yaml
      "python-sink/misbehaving_sink.py", // process-sink.test.ts
      "python-reduce/reduce.py", // reduce-process.test.ts
      "flow-control/ordered.yaml",
      "flow-control/ordered-sink.ts", // ordered.yaml
      "flow-control/audit.ts", // ordered.yaml
      "flow-control/retry-later.yaml",
      "flow-control/retry-later.ts", // retry-later.yaml
      "flow-control/rate-limit.yaml",
      "reduce/counts.yaml",
      "reduce/sessions.yaml",
      "reduce/average.ts", // sessions.yaml
    ]);
    const files = (await readdir(examples, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile() && !entry.parentPath.includes("__pycache__") && !entry.parentPath.includes(`${path.sep}out`))
      .map((entry) => path.relative(examples, path.join(entry.parentPath, entry.name)));
    expect(files.filter((file) => !exercised.has(file))).toEqual([]);
  });
});
