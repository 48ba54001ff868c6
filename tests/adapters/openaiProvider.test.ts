import { describe, expect, it } from "vitest";
import { PermanentProviderError } from "../../workers/providers/provider.js";
import { startFakeOpenAi } from "../fixtures/fakeLlmServers.js";
import { OpenAiProvider } from "../../workers/providers/openaiProvider.js";
import { KEY, providerContract, request } from "./providerContract.js";
import { loadSettings } from "../../api/config/settings.js";

providerContract("OpenAI", startFakeOpenAi, (server, opts) => new OpenAiProvider({ ...opts, baseURL: server.url }));

describe("OpenAI adapter, OpenAI's own answers", () => {
  it("does not retry a 429 insufficient_quota (a key without credit), unlike a rate limit: it fails at once, for good", async () => {
    const server = await startFakeOpenAi(KEY);
    try {
      const provider = new OpenAiProvider({ apiKey: KEY, baseURL: server.url, timeoutMs: 2_000, retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 } });
      server.script({ kind: "error", status: 429, code: "insufficient_quota" });
      const err = await provider.generate(request()).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentProviderError);
      expect(err.message).toContain("429");
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("sends no temperature to a model that takes only its default (a reasoning model), says so in its answer, and sends it to others", async () => {
    const server = await startFakeOpenAi(KEY);
    try {
      const noTemperature = loadSettings({}).providers.openai.noTemperature;
      const provider = new OpenAiProvider({ apiKey: KEY, baseURL: server.url, timeoutMs: 2_000, noTemperature });
      const reasoning = await provider.generate(request({ model: "o3-mini", temperature: 0.3 }));
      expect(server.requests[0]?.body).not.toHaveProperty("temperature");
      expect(reasoning.notes).toEqual([expect.stringContaining("temperature 0.3 not sent: o3-mini")]);
      const chat = await provider.generate(request({ model: "gpt-4o-mini", temperature: 0.3 }));
      expect(server.requests[1]?.body.temperature).toBe(0.3);
      expect(chat.notes).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

