import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// The e2e suite again, with the store on PostgreSQL (DATABASE_URL), plus the crash-in-write test. Not the
// files that exercise Prefect, Redis, the processes or the page rather than the store (whose write-once
// rules the adapter tests check on both backends): the faults (killed workers, restarted Redis and Prefect,
// a hanging provider), state changes made in Prefect's UI, standby flow runs, provider adapters, the dashboard in a browser, the OpenAPI
// contract, random commands (the driver's logic, the same on either store). They are a third of the
// suite's time, and CI aims at 15 minutes.
export default defineConfig({
  test: {
    include: ["tests/e2e/**/*.test.ts"],
    exclude: ["faults", "prefectStates", "standby", "providers", "dashboard", "prefectContract", "randomCommands"].map((name) => `tests/e2e/${name}.test.ts`),
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/e2e/globalSetupPostgres.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
