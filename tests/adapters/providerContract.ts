import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeLlmServer } from "../fixtures/fakeLlmServers.js";
import { outputJsonSchema, parseOutput } from "../../workers/outputSchemas.js";
import { PermanentProviderError, type FailedCall, type GenerateRequest, type Provider } from "../../workers/providers/provider.js";
import type { RetryPolicy } from "../../workers/providers/retryPolicy.js";

export const KEY = "sk-test-key-0123456789abcdef";
const fastRetries: RetryPolicy = { attempts: 4, baseDelayMs: 5, maxDelayMs: 5_000 };

export const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  system: 'You are the "structure-themes" agent in a team writing a non-fiction book. Answer with one JSON object of the kind "list" and nothing else.',
  prompt: "## The book\nPremise: Habits compound\n\n## Your task (S1)\nList the book's core themes.",
  model: "model-x",
  temperature: 0.3,
  maxTokens: 300,
  output: { kind: "list", jsonSchema: outputJsonSchema("list") },
  meta: { stepId: "S1", premise: "Habits compound", inputs: [] },
  ...over,
});

/** One suite every provider adapter must pass, against its fake server. */
export function providerContract(name: string, start: (key: string) => Promise<FakeLlmServer>, make: (server: FakeLlmServer, opts: { apiKey: string; timeoutMs: number; retry: RetryPolicy }) => Provider) {
  describe(`${name} adapter (wire format of a local fake server)`, () => {
    let server: FakeLlmServer;
    let provider: Provider;
    beforeAll(async () => {
      server = await start(KEY);
      provider = make(server, { apiKey: KEY, timeoutMs: 2_000, retry: fastRetries });
    });
    afterAll(() => server.close());
    const calls = (from: number) => server.requests.slice(from);

    it("returns the answer with its usage counted and sends the settings", async () => {
      const before = server.requests.length;
      const res = await provider.generate(request());
      expect(parseOutput("list", res.text)).toMatchObject({ ok: true });
      expect(res.text).toContain("Habits compound");
      expect(res.usage.inputTokens).toBeGreaterThan(0);
      expect(res.usage.outputTokens).toBeGreaterThan(0);
      expect(res.finishReason).toMatch(/stop/i);
      expect(calls(before)).toHaveLength(1);
      expect(calls(before)[0]!.apiKey).toBe(KEY);
      expect(JSON.stringify(calls(before)[0]!.body)).toContain("0.3");
    });

    it("waits as long as a 429's Retry-After says, then succeeds", async () => {
      const before = server.requests.length;
      server.script({ kind: "error", status: 429, headers: { "retry-after": "1" }, retryDelaySeconds: 1 });
      const started = Date.now();
      await provider.generate(request());
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(calls(before)).toHaveLength(2);
    });

    it("records the answered call's latency, not the failed call and the wait before it (those are audited on their own)", async () => {
      server.script({ kind: "error", status: 429, headers: { "retry-after": "1" }, retryDelaySeconds: 1 });
      const started = Date.now();
      const res = await provider.generate(request());
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(res.latencyMs).toBeLessThan(900);
    });

    it("fails at once, for good, on an answer without content (a refusal, a blocked prompt): the same request gets the same", async () => {
      const before = server.requests.length;
      server.script({ kind: "refusal" });
      const err = await provider.generate(request()).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentProviderError);
      expect(err.message).toMatch(/refused the step: I can't help with that|the prompt was blocked: SAFETY/);
      expect(calls(before)).toHaveLength(1);
    });

    it("leaves an empty answer with no stated cause to be tried again (not failed for good)", async () => {
      const before = server.requests.length;
      server.script({ kind: "empty" });
      const err = await provider.generate(request()).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PermanentProviderError);
      expect(err.message).toMatch(/no (content|text) \(finish reason (stop|OTHER)\)/);
      expect(calls(before)).toHaveLength(1);
    });

    it("retries a 500 twice, then succeeds, telling of each failed call (the audit records every call)", async () => {
      const before = server.requests.length;
      server.script({ kind: "error", status: 500 }, { kind: "error", status: 500 });
      const failed: FailedCall[] = [];
      await expect(provider.generate({ ...request(), onRetry: async (f) => void failed.push(f) })).resolves.toMatchObject({ finishReason: expect.any(String) });
      expect(calls(before)).toHaveLength(3);
      expect(failed.map((f) => f.call)).toEqual([1, 2]);
      expect(failed.every((f) => /500/.test(f.error) && !f.error.includes(KEY))).toBe(true);
    });

    it("fails at once on a 401 with a clear, permanent error that holds no key", async () => {
      const before = server.requests.length;
      const wrong = make(server, { apiKey: "sk-wrong-key-000000000000", timeoutMs: 2_000, retry: fastRetries });
      const err = await wrong.generate(request()).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentProviderError);
      expect(err.message).toMatch(/401/);
      expect(err.message).not.toContain("sk-wrong-key-000000000000");
      expect(calls(before)).toHaveLength(1);
    });

    it("does not retry a 400", async () => {
      const before = server.requests.length;
      server.script({ kind: "error", status: 400 });
      await expect(provider.generate(request())).rejects.toBeInstanceOf(PermanentProviderError);
      expect(calls(before)).toHaveLength(1);
    });

    it("times out a hung request, retries, then gives up", async () => {
      const before = server.requests.length;
      const quick = make(server, { apiKey: KEY, timeoutMs: 300, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
      server.script({ kind: "hang" }, { kind: "hang" });
      await expect(quick.generate(request())).rejects.toThrow();
      expect(calls(before)).toHaveLength(2);
    });

    it("aborts the HTTP request when the run is cancelled", async () => {
      const before = server.requests.length;
      server.script({ kind: "hang" });
      const controller = new AbortController();
      const pending = provider.generate(request({ signal: controller.signal }));
      await expect.poll(() => calls(before).length).toBe(1);
      controller.abort(new Error("run cancelled"));
      await expect(pending).rejects.toThrow();
      await expect.poll(() => calls(before)[0]!.aborted).toBe(true);
      expect(calls(before)).toHaveLength(1);
    });

    it("treats a body that is not JSON as a failure worth one more try", async () => {
      const before = server.requests.length;
      server.script({ kind: "malformed" });
      await expect(provider.generate(request())).resolves.toBeDefined();
      expect(calls(before)).toHaveLength(2);
    });
  });
}
