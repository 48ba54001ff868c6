import { defineConfig } from "vitest/config";
import { isolateTestsFromShell } from "./fixtures/shellSettings.js";

isolateTestsFromShell();

// Adapters against local servers: fakes that speak the real wire formats (OpenAI, Gemini), and real
// redis-server and PostgreSQL. No stack, no network.
export default defineConfig({
  test: {
    include: ["tests/adapters/**/*.test.ts"],
    root: new URL("..", import.meta.url).pathname,
    testTimeout: 30_000,
  },
});
