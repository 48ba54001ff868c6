import { defineConfig } from "vitest/config";

// The whole e2e suite again, with the store on PostgreSQL (DATABASE_URL), plus the crash-in-write test.
export default defineConfig({
  test: {
    include: ["tests/e2e/**/*.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/e2e/globalSetupPostgres.ts"],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
