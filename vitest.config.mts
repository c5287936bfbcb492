import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["__tests__/**/*.test.ts"],
    globalSetup: ["__tests__/helpers/global-setup.ts"],
    setupFiles: ["__tests__/helpers/matchers.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    // Test files in one worker share loaded modules (the provider bindings, cdktf): no test relies on
    // module state of its own, and skipping the reload per file halves the suite's import time.
    isolate: false,
    // Much of the suite waits on real tools (terraform, helm, checkov) in child processes, so one
    // test file per core keeps both cores busy; vitest's default leaves one core idle.
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ["default"],
  },
});
