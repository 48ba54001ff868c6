import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// The e2e suite again, with the store on PostgreSQL (DATABASE_URL), plus the crash-in-write test. Not the
// fault tests (killed workers, restarted Redis and Prefect, a hanging provider): they exercise Prefect, Redis
// and the processes, not the store, whose write-once rules the adapter tests check on both backends; they
// are the slowest file, and CI aims at 15 minutes.
export default defineConfig({
  test: {
    include: ["tests/e2e/**/*.test.ts"],
    exclude: ["tests/e2e/faults.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/e2e/globalSetupPostgres.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
