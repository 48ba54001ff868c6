import { describe, expect, it } from "vitest";
import { PermanentProviderError } from "../../workers/providers/provider.js";
import { startFakeOpenAi } from "../fixtures/fakeLlmServers.js";
import { OpenAiProvider } from "../../workers/providers/openaiProvider.js";
import { KEY, providerContract, request } from "./providerContract.js";

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
});
