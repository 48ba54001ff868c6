import { describe, expect, it } from "vitest";
import { parseRetryAfter, retryDecision } from "../../workers/providers/retryPolicy.js";
import { redactSecrets } from "../../workers/providers/redact.js";

const policy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

describe("retryDecision", () => {
  it.each([429, 500, 502, 503, 408])("retries a %i", (status) => {
    expect(retryDecision({ status }, 1, policy, () => 1)).toEqual({ retry: true, delayMs: 500 });
  });
  it.each([400, 401, 403, 404, 422])("does not retry a %i", (status) => {
    expect(retryDecision({ status }, 1, policy)).toEqual({ retry: false });
  });
  it("retries timeouts and connection failures, with exponential backoff and full jitter", () => {
    expect(retryDecision({ transport: true }, 3, policy, () => 1)).toEqual({ retry: true, delayMs: 2000 });
    expect(retryDecision({ transport: true }, 3, policy, () => 0.25)).toEqual({ retry: true, delayMs: 500 });
  });
  it("waits exactly the provider's Retry-After, capped", () => {
    expect(retryDecision({ status: 429, retryAfterMs: 7000 }, 1, policy)).toEqual({ retry: true, delayMs: 7000 });
    expect(retryDecision({ status: 429, retryAfterMs: 600_000 }, 1, policy)).toEqual({ retry: true, delayMs: 30_000 });
  });
  it("stops after the last attempt and never retries an abort", () => {
    expect(retryDecision({ status: 503 }, 4, policy)).toEqual({ retry: false });
    expect(retryDecision({ aborted: true, transport: true }, 1, policy)).toEqual({ retry: false });
  });
});

describe("parseRetryAfter", () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  it("reads seconds, milliseconds and HTTP dates", () => {
    expect(parseRetryAfter(headers({ "retry-after": "3" }))).toBe(3000);
    expect(parseRetryAfter(headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(parseRetryAfter(headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(parseRetryAfter(headers({}))).toBeUndefined();
  });
});

describe("redactSecrets", () => {
  it("removes the given secrets and anything shaped like an OpenAI or Google key", () => {
    const text = "key sk-proj-abcdefghijkl1234 and AIzaSyA1234567890abcdefghijklmn and my-secret-value";
    expect(redactSecrets(text, ["my-secret-value"])).toBe("key [redacted] and [redacted] and [redacted]");
  });
});
