import { describe, expect, it } from "vitest";
import { loadSettings } from "../../api/config/settings.js";
import { InvalidConfig } from "../../api/errors.js";

describe("the gateway's public URL (the base of the links it returns)", () => {
  it("is where it listens by default", () => {
    expect(loadSettings({ QUIRE_HOST: "127.0.0.1", QUIRE_PORT: "8181" }).http.publicUrl).toBe("http://127.0.0.1:8181");
  });

  it("puts an IPv6 address in brackets (QUIRE_HOST=::1)", () => {
    expect(loadSettings({ QUIRE_HOST: "::1", QUIRE_PORT: "8080" }).http.publicUrl).toBe("http://[::1]:8080");
  });

  it("is QUIRE_PUBLIC_URL when set (behind a load balancer, or bound to 0.0.0.0), without a trailing slash", () => {
    expect(loadSettings({ QUIRE_HOST: "0.0.0.0", QUIRE_PUBLIC_URL: "https://books.example/quire/" }).http.publicUrl).toBe("https://books.example/quire");
  });

  it("refuses a QUIRE_PUBLIC_URL that is not a URL, naming it", () => {
    expect(() => loadSettings({ QUIRE_PUBLIC_URL: "books.example" })).toThrow(InvalidConfig);
    expect(() => loadSettings({ QUIRE_PUBLIC_URL: "books.example" })).toThrow(/QUIRE_PUBLIC_URL/);
  });
});

describe("OpenAI models sent no temperature (OPENAI_NO_TEMPERATURE_MODELS)", () => {
  const noTemperature = (env: NodeJS.ProcessEnv = {}) => loadSettings(env).providers.openai.noTemperature;

  it("are, by default, the reasoning models (o-series, GPT-5) and not the chat models", () => {
    const matches = (model: string) => noTemperature()!.test(model);
    for (const model of ["o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1"]) expect(matches(model), model).toBe(true);
    for (const model of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5-chat-latest", "ft:gpt-4o-mini:acme"]) expect(matches(model), model).toBe(false);
  });

  it("can be none (an empty value) or a pattern of the operator's", () => {
    expect(noTemperature({ OPENAI_NO_TEMPERATURE_MODELS: "" })).toBeUndefined();
    expect(noTemperature({ OPENAI_NO_TEMPERATURE_MODELS: "^my-reasoner$" })!.test("my-reasoner")).toBe(true);
  });

  it("refuses a pattern that is not a regular expression, naming it", () => {
    expect(() => loadSettings({ OPENAI_NO_TEMPERATURE_MODELS: "(o1" })).toThrow(/OPENAI_NO_TEMPERATURE_MODELS: not a valid regular expression/);
  });
});
