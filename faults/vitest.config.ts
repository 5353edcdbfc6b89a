import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`../packages/${pkg}/src/index.ts`, import.meta.url));

// The fault suite (`pnpm test:faults`, run through faults/run.ts which prints the figures).
// Scenarios spawn the built CLI as worker processes and fault them, against private redis-servers.
export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  resolve: {
    alias: {
      "@weir/actors": src("actors"),
      "@weir/runtime": src("runtime"),
      "@weir/testkit": src("testkit"),
    },
  },
  test: {
    include: ["faults/**/*.faults.test.ts"],
    globalSetup: ["./packages/runtime/test/support/redis-global-setup.ts"],
    // Two cores: two scenario files at a time, each spawning a few worker processes.
    maxWorkers: 2,
    // Generous: with both cores busy a worker process takes seconds to start; conditions, not these, pace the trials.
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
