import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// Scale-out on one machine: two gateways, two Prefect workers and three agent workers sharing one Redis,
// one Prefect server and one PostgreSQL store (tests/scale/globalSetup.ts).
export default defineConfig({
  test: {
    include: ["tests/scale/**/*.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    globalSetup: ["tests/scale/globalSetup.ts"],
    testTimeout: 600_000,
    hookTimeout: 240_000,
  },
});
