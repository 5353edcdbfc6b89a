/**
 * Fault scenario 8 — security. (a) The inspector and metrics servers listen on 127.0.0.1 only.
 * (b) A Redis with `requirepass`: the password in the URL works; without it (or a wrong one) the
 * run fails with a non-zero exit and a reason that names authentication, within seconds; the
 * password never shows in stdout, stderr, the debug log or the `--trace` file. (c) An ACL user
 * confined to the pipeline's key prefix (`~<prefix>:*`, no @dangerous commands) can run it.
 * Every Redis here is a private redis-server (startRedisServer), never 127.0.0.1:6379.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRedisServer, redisCommand, startRedisServer, uniquePrefix, type RedisServer } from "./support/redis-server.js";
import { ensureBuilt, startWeir } from "./support/weir-cli.js";
import { boundedSpecText } from "./support/bounded-spec.js";

const PASSWORD = "s3cret-Weir-pw-8b7c1d";
const ACL_PASSWORD = "acl-only-pw-4f2e9a";

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(path.join(tmpdir(), "weir-security-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const specText = (name: string, buffer: string, total = 300) => boundedSpecText({ name, buffer, total });

/** Resolves true when a TCP connection to host:port opens. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

describe("8a: observability servers listen on loopback only", () => {
  it("weir run --metrics-port 0 --inspect=0 prints 127.0.0.1 URLs, and the ports answer there only", async () => {
    const file = path.join(dir, "observed.yaml");
    await writeFile(file, specText("observed", "{ type: memory }", 2_000).replace("rpu: 4000", "rpu: 400"));
    const run = startWeir(["run", file, "--json", "--metrics-port", "0", "--inspect=0", "--metrics-linger", "5s"]);
    try {
      const metricsLine = await run.waitFor(/metrics at http:\/\//, "stderr");
      const inspectorLine = await run.waitFor(/inspector at http:\/\//, "stderr");
      const metrics = /metrics at http:\/\/([^/:]+):(\d+)\//.exec(metricsLine)!;
      const inspector = /inspector at http:\/\/([^/:]+):(\d+)\//.exec(inspectorLine)!;
      expect(metrics[1]).toBe("127.0.0.1");
      expect(inspector[1]).toBe("127.0.0.1");
      for (const port of [Number(metrics[2]), Number(inspector[2])]) {
        expect(port).toBeGreaterThan(0);
        expect(await reachable("127.0.0.1", port), `127.0.0.1:${port}`).toBe(true);
        // Every other address of this machine must refuse it.
        const others = Object.values(networkInterfaces())
          .flat()
          .filter((address) => address !== undefined && !address.internal && address.family === "IPv4")
          .map((address) => address!.address);
        for (const host of others) expect(await reachable(host, port), `${host}:${port}`).toBe(false);
        expect(await reachable("::1", port), `[::1]:${port}`).toBe(false);
      }
    } finally {
      run.child.kill("SIGTERM");
      await run.exited;
    }
  });
});

describe.skipIf(findRedisServer() === undefined)("8b/8c: Redis authentication", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ requirepass: PASSWORD });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const authedUrl = () => `redis://:${PASSWORD}@127.0.0.1:${server.port}`;

  /** Runs a spec with --trace at debug level; returns everything it printed and traced. */
  async function runWith(name: string, url: string, prefix: string) {
    const file = path.join(dir, `${name}.yaml`);
    const trace = path.join(dir, `${name}.trace.jsonl`);
    await writeFile(file, specText(name, `{ type: redis, url: "${url}", keyPrefix: ${prefix} }`));
    const run = startWeir(["run", file, "--json", "--log-level", "debug", "--trace", trace]);
    // A run that retried an authentication failure forever ends here, with exit code null.
    const timer = setTimeout(() => run.child.kill("SIGKILL"), 50_000);
    const code = await run.exited;
    clearTimeout(timer);
    const traced = existsSync(trace) ? readFileSync(trace, "utf8") : "";
    return { code, stdout: run.stdout(), stderr: run.stderr(), traced };
  }

  const expectNoSecret = (out: { stdout: string; stderr: string; traced: string }, secret: string) => {
    expect(out.stdout.includes(secret), "password in stdout").toBe(false);
    expect(out.stderr.includes(secret), "password in stderr (log)").toBe(false);
    expect(out.traced.includes(secret), "password in the trace").toBe(false);
  };

  it("with the password in the URL the run completes, and the password is printed nowhere", async () => {
    const out = await runWith("authed", authedUrl(), uniquePrefix("sec"));
    expect(out.code, out.stderr.slice(-2000)).toBe(0);
    expect(out.stdout).toContain('"status":"completed"');
    expect(out.traced.length).toBeGreaterThan(0);
    expectNoSecret(out, PASSWORD);
  });

  it("without the password the run fails fast, says authentication, and prints no password", async () => {
    const out = await runWith("noauth", `redis://127.0.0.1:${server.port}`, uniquePrefix("sec"));
    expect(out.code).not.toBe(0);
    expect(out.code).not.toBeNull(); // not killed by the guard: it failed by itself
    // One line says why: `weir: vertex 'out' failed: … create consumer group failed: NOAUTH Authentication required.`
    expect(out.stderr.split("\n").filter((line) => line.startsWith("weir: ") && /NOAUTH Authentication required/.test(line))).toHaveLength(1);
    expectNoSecret(out, PASSWORD);
  });

  it("with a wrong password the run fails fast, says authentication, and prints neither password", async () => {
    const wrong = "wrong-pw-77d1e0";
    const out = await runWith("wrongauth", `redis://:${wrong}@127.0.0.1:${server.port}`, uniquePrefix("sec"));
    expect(out.code).not.toBe(0);
    expect(out.code).not.toBeNull();
    expect(out.stderr.split("\n").filter((line) => line.startsWith("weir: ") && /WRONGPASS invalid username-password pair/.test(line))).toHaveLength(1);
    expectNoSecret(out, PASSWORD);
    expectNoSecret(out, wrong);
  });

  it("8c: an ACL user limited to the pipeline's key prefix, without @dangerous, runs it", async () => {
    const prefix = uniquePrefix("acl");
    await redisCommand(authedUrl(), "ACL", "SETUSER", "weir", "reset", "on", `>${ACL_PASSWORD}`, `~${prefix}:*`, "+@all", "-@dangerous");
    const out = await runWith("acl", `redis://weir:${ACL_PASSWORD}@127.0.0.1:${server.port}`, prefix);
    expect(out.code, out.stderr.slice(-3000)).toBe(0);
    expect(out.stdout).toContain('"status":"completed"');
    expectNoSecret(out, ACL_PASSWORD);
    // And the user cannot touch another prefix: the confinement is real.
    await expect(redisCommand(`redis://weir:${ACL_PASSWORD}@127.0.0.1:${server.port}`, "SET", "other:key", "1")).rejects.toThrow(/NOPERM/);
  });
});
