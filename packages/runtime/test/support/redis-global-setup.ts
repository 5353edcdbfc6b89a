/**
 * Vitest global setup: one private redis-server for the whole run, shared by every
 * `*.redis.test.ts` file through `inject("weirRedisUrl")` (see redis-server.ts `redisTestUrl`).
 *
 * - `WEIR_TEST_REDIS_URL` set: use that Redis instead (tests write only under unique prefixes).
 * - No redis-server binary, outside CI: Redis-backed tests skip, with a loud warning saying how
 *   to install it. In CI (`CI=true`) a missing redis-server fails the run instead: a CI run that
 *   silently skipped them would prove nothing.
 * - Otherwise the server starts with every run (it takes a few tens of ms) and stops at its end.
 */
import type { TestProject } from "vitest/node";
import { findRedisServer, INSTALL_HINT, startRedisServer, type RedisServer } from "./redis-server.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: RedisServer | undefined;
  const provide = (url: string | null, reason: string | null) => {
    project.provide("weirRedisUrl", url);
    project.provide("weirRedisSkipReason", reason);
  };
  const external = process.env["WEIR_TEST_REDIS_URL"];
  if (external !== undefined && external !== "") {
    provide(external, null);
    return async () => undefined;
  }
  if (findRedisServer() === undefined) {
    const reason = process.env["WEIR_REDIS_SERVER"] ? `WEIR_REDIS_SERVER=${process.env["WEIR_REDIS_SERVER"]} is not an executable` : "no redis-server binary on PATH";
    if (process.env["CI"] === "true") {
      throw new Error(`CI=true but ${reason}: Redis-backed tests cannot run; ${INSTALL_HINT}`);
    }
    console.warn(`\n⚠️  ${reason}: every *.redis.test.ts file will be SKIPPED.\n⚠️  ${INSTALL_HINT}\n`);
    provide(null, reason);
    return async () => undefined;
  }
  server = await startRedisServer();
  provide(server.url, null);
  return async () => {
    await server?.stop();
  };
}
