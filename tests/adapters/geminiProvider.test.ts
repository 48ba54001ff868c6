import { describe, expect, it } from "vitest";
import { startFakeGemini } from "../fixtures/fakeLlmServers.js";
import { GeminiProvider } from "../../workers/providers/geminiProvider.js";
import { KEY, providerContract, request } from "./providerContract.js";

providerContract("Gemini", startFakeGemini, (server, opts) => new GeminiProvider({ ...opts, baseUrl: server.url }));

describe("Gemini adapter, Gemini's own answers", () => {
  it("counts a thinking model's thoughts as output tokens (billed as such)", async () => {
    const server = await startFakeGemini(KEY);
    try {
      const provider = new GeminiProvider({ apiKey: KEY, baseUrl: server.url, timeoutMs: 2_000 });
      const plain = await provider.generate(request());
      server.script({ kind: "ok", thoughtsTokens: 500 });
      const thinking = await provider.generate(request());
      expect(thinking.usage.outputTokens).toBe(plain.usage.outputTokens + 500);
    } finally {
      await server.close();
    }
  });
});
