import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import the packages' sources, so a test run never depends on a stale build;
// CLI tests spawn the built binary, which `pnpm test` builds first.
export default defineConfig({
  resolve: {
    alias: {
      "@weir/actors": src("actors"),
      "@weir/runtime": src("runtime"),
      "@weir/testkit": src("testkit"),
    },
  },
  test: {
    reporters: ["default", "./scripts/plain-summary-reporter.ts"],
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    // One private redis-server for the run (or WEIR_TEST_REDIS_URL); *.redis.test.ts files inject its URL.
    globalSetup: ["./packages/runtime/test/support/redis-global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
