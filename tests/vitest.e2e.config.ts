import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// The real stack (Prefect server + worker, Redis, store, gateway, agent workers), started once by
// tests/e2e/globalSetup.ts on free ports. Files run one after another: the machine has two cores.
export default defineConfig({
  test: {
    include: ["tests/e2e/**/*.test.ts"],
    // Needs a lock held from outside the store, which only the Postgres run can do.
    exclude: ["tests/e2e/crashInWrite.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/e2e/globalSetup.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
