import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = path.join(repoRoot, "packages/runtime/bin/weir.js");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function weir(args: string[], onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    onStart?.(child);
  });
}

let dir: string;
beforeAll(async () => {
  if (!existsSync(path.join(repoRoot, "packages/runtime/dist/cli/main.js"))) {
    execFileSync("pnpm", ["-w", "build"], { cwd: repoRoot, stdio: "inherit" });
  }
  dir = await mkdtemp(path.join(tmpdir(), "weir-run-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("weir run", () => {
  it("runs the demo to completion and prints exactly one JSON line with --json", async () => {
    const result = await weir(["run", "examples/demo.yaml", "--json"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!) as { status: string; pipeline: string; durationMs: number; vertices: Record<string, Record<string, number>> };
    expect(summary.status).toBe("completed");
    expect(summary.pipeline).toBe("demo");
    expect(summary.durationMs).toBeGreaterThan(0);
    for (const vertex of ["in", "cat", "out"]) {
      expect(summary.vertices[vertex]).toEqual({ read: 20000, written: 20000, acked: 20000, ok: 20000, fallback: 0, dropped: 0, deduped: 0, protocolErrors: 0 });
    }
  });

  it("drains on SIGTERM: in-flight epochs commit, exit 0, every message read is acked once", async () => {
    const file = path.join(dir, "endless.yaml");
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: endless }",
        "spec:",
        "  limits: { readTimeout: 20ms }",
        "  vertices:",
        "    - { name: in, source: { generator: { rpu: 50000, duration: 1s } } }",
        "    - { name: cat, partitions: 2, udf: { builtin: { name: cat } } }",
        "    - { name: out, partitions: 4, sink: { blackhole: {} } }",
        "  edges:",
        "    - { from: in, to: cat }",
        "    - { from: cat, to: out }",
        "",
      ].join("\n"),
    );
    const result = await weir(["run", file, "--json"], (child) => {
      setTimeout(() => child.kill("SIGTERM"), 1_000);
    });
    expect(result.stderr).toContain("draining");
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.trim()) as { status: string; vertices: Record<string, Record<string, number>> };
    expect(summary.status).toBe("completed");
    const read = summary.vertices["in"]!["read"]!;
    expect(read).toBeGreaterThan(1_000);
    for (const vertex of ["in", "cat", "out"]) {
      expect(summary.vertices[vertex]!["acked"]).toBe(read);
      expect(summary.vertices[vertex]!["ok"]).toBe(read);
    }
  });

  it("exits once a bounded run completes, even when a udf keeps a handle open and leaves a call hanging", async () => {
    // Found by the fault suite (scenario 4, "udf hangs"): the process waited for Node's event loop to run dry.
    await writeFile(
      path.join(dir, "clingy.mjs"),
      [
        "setInterval(() => undefined, 1_000); // the udf's own client, say",
        "let calls = 0;",
        "export function clingy(message) {",
        "  calls += 1;",
        "  if (calls === 3) return new Promise(() => undefined); // times out, is retried",
        "  return [{ value: message.value }];",
        "}",
        "",
      ].join("\n"),
    );
    const file = path.join(dir, "clingy.yaml");
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: clingy }",
        "spec:",
        "  limits: { resultTimeout: 200ms }",
        "  vertices:",
        "    - { name: in, source: { generator: { total: 20, rpu: 20 } } }",
        "    - { name: map, udf: { module: { path: ./clingy.mjs, export: clingy } }, retryStrategy: { onFailure: retry } }",
        "    - { name: out, sink: { blackhole: {} } }",
        "  edges:",
        "    - { from: in, to: map }",
        "    - { from: map, to: out }",
        "",
      ].join("\n"),
    );
    let child: ReturnType<typeof spawn> | undefined;
    const running = weir(["run", file, "--json"], (started) => (child = started));
    const result = await Promise.race([running, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000))]);
    if (result === undefined) child?.kill("SIGKILL");
    expect(result, "weir run still running 20 s after a 20-message run").toBeDefined();
    expect(result!.code, result!.stderr).toBe(0);
    const summary = JSON.parse(result!.stdout.trim()) as { status: string; vertices: Record<string, { acked: number }> };
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]!.acked).toBe(20);
  });

  it("exits non-zero with a one-line reason when a module cannot be loaded", async () => {
    const file = path.join(dir, "broken.yaml");
    await writeFile(
      file,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: broken }",
        "spec:",
        "  vertices:",
        "    - { name: in, source: { generator: { total: 5 } } }",
        "    - { name: out, sink: { module: { path: ./missing.mjs } } }",
        "  edges:",
        "    - { from: in, to: out }",
        "",
      ].join("\n"),
    );
    const result = await weir(["run", file, "--json"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/missing\.mjs does not exist/);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
