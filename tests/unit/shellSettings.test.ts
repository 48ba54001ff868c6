import { describe, expect, it } from "vitest";
import { dropShellSettings } from "../fixtures/shellSettings.js";

describe("the tests' isolation from the developer's shell", () => {
  it("drops Quire's, Prefect's, the providers' and the store's settings, and keeps the rest", () => {
    const env: NodeJS.ProcessEnv = {
      PATH: "/usr/bin",
      HOME: "/root",
      QUIRE_API_KEY: "secret",
      QUIRE_REDIS_URL: "redis://elsewhere:6379",
      PREFECT_API_URL: "http://elsewhere:4200/api",
      OPENAI_API_KEY: "sk-real",
      GEMINI_MODEL: "gemini-pro",
      DATABASE_URL: "postgres://me@localhost/app",
      MY_DATABASE_URL: "kept",
      FORCE_COLOR: "0",
    };
    expect(dropShellSettings(env)).toEqual(["DATABASE_URL", "GEMINI_MODEL", "OPENAI_API_KEY", "PREFECT_API_URL", "QUIRE_API_KEY", "QUIRE_REDIS_URL"]);
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/root", MY_DATABASE_URL: "kept", FORCE_COLOR: "0" });
  });
});
