import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// Pure core: no network, no processes, no files outside tests/fixtures.
export default defineConfig({
  test: {
    include: ["tests/unit/**/*.test.ts"],
    root: new URL("..", import.meta.url).pathname,
  },
});
