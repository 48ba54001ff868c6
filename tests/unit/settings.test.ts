import { describe, expect, it } from "vitest";
import { loadSettings } from "../../api/config/settings.js";
import { InvalidConfig } from "../../api/errors.js";

describe("the gateway's public URL (the base of the links it returns)", () => {
  it("is where it listens by default", () => {
    expect(loadSettings({ QUIRE_HOST: "127.0.0.1", QUIRE_PORT: "8181" }).http.publicUrl).toBe("http://127.0.0.1:8181");
  });

  it("is QUIRE_PUBLIC_URL when set (behind a load balancer, or bound to 0.0.0.0), without a trailing slash", () => {
    expect(loadSettings({ QUIRE_HOST: "0.0.0.0", QUIRE_PUBLIC_URL: "https://books.example/quire/" }).http.publicUrl).toBe("https://books.example/quire");
  });

  it("refuses a QUIRE_PUBLIC_URL that is not a URL, naming it", () => {
    expect(() => loadSettings({ QUIRE_PUBLIC_URL: "books.example" })).toThrow(InvalidConfig);
    expect(() => loadSettings({ QUIRE_PUBLIC_URL: "books.example" })).toThrow(/QUIRE_PUBLIC_URL/);
  });
});
