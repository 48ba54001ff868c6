import { defineConfig } from "vitest/config";

// The e2e files that exercise the store hardest, again with the store on PostgreSQL (DATABASE_URL).
export default defineConfig({
  test: {
    include: ["tests/e2e/helloWorld.test.ts", "tests/e2e/badInput.test.ts", "tests/e2e/restart.test.ts", "tests/e2e/events.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/e2e/globalSetupPostgres.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
