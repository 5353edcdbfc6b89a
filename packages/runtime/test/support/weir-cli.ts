/**
 * Runs the built `weir` binary for end-to-end tests (building it once when dist is missing),
 * and small helpers those tests share: a free port, a scrape, a wait.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { PassThrough } from "node:stream";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CliIO } from "../../src/cli/command.js";

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
export const weirBin = path.join(repoRoot, "packages/runtime/bin/weir.js");

/** Builds the workspace once if the CLI (its bundle, scripts/bundle.mjs) was never built (`pnpm test` builds it first). */
export function ensureBuilt(): void {
  if (!existsSync(path.join(repoRoot, "packages/runtime/dist/cli-bundle/main.js"))) {
    execFileSync("pnpm", ["-w", "build"], { cwd: repoRoot, stdio: "inherit" });
  }
}

/** A CliIO for running commands in-process (runCli) that keeps what they write. */
export function captureIO(): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  return { stdout, stderr, isTTY: false, out: () => out, err: () => err };
}

export interface WeirProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited and its output is read. */
  readonly exited: Promise<number | null>;
  /** Resolves when stdout (or stderr) has a line matching `pattern`. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number): Promise<string>;
}

export function startWeir(args: readonly string[], env: Readonly<Record<string, string>> = {}): WeirProcess {
  const child = spawn(process.execPath, [weirBin, ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((waiter) => waiter());
  child.stdout.on("data", (chunk: Buffer) => ((out += chunk.toString()), wake()));
  child.stderr.on("data", (chunk: Buffer) => ((err += chunk.toString()), wake()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => (wake(), resolve(code))));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, stream = "stdout", timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const check = () => {
          const text = stream === "stdout" ? out : err;
          const match = text.split("\n").find((line) => pattern.test(line));
          if (match !== undefined) return resolve(match);
          if (done) return reject(new Error(`weir exited before printing ${pattern}; stderr: ${err}`));
          if (Date.now() > deadline) return reject(new Error(`weir did not print ${pattern} within ${timeoutMs}ms; stderr: ${err}`));
          waiters.push(check);
          setTimeout(check, 100);
        };
        check();
      });
    },
  };
}

/** A port that was free a moment ago (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Parses Prometheus text into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function sumMetric(values: Map<string, number>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const [key, value] of values) {
    const brace = key.indexOf("{");
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    if (Object.entries(labels).every(([label, wanted]) => key.includes(`${label}="${wanted}"`))) sum += value;
  }
  return sum;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
