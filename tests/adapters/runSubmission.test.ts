import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Credentials } from "../../api/config/credentials.js";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { InvalidInput, Unavailable } from "../../api/errors.js";
import { RunService } from "../../api/runs/runService.js";
import { openSqliteStore } from "../../api/store/openStore.js";
import { ProviderRegistry } from "../../workers/providers/providerRegistry.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const providerSettings = (openAiKey?: string) => ({
  openai: { apiKey: openAiKey, model: "gpt-x", concurrency: 1 },
  gemini: { model: "gemini-x", concurrency: 1 },
  timeoutMs: 1000,
  secretBlocks: true,
});

describe("submitting a run that needs a provider's credentials", () => {
  it("answers 400 naming the variable (and the Prefect block) when the key is missing, and stores nothing", async () => {
    const store = await openSqliteStore(":memory:", { migrate: true });
    const credentials = new Credentials(providerSettings(), async () => undefined);
    const runs = new RunService(store, graph, { models: { mock: "m", openai: "gpt-x", gemini: "gemini-x" } }, (p) => credentials.availability(p));
    const err = await runs.submit({ idea: { premise: "p" }, provider: "openai", mode: "auto" }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInput);
    expect(err.message).toContain("OPENAI_API_KEY");
    expect(err.message).toContain("quire-openai-api-key");
    const stageOnly = await runs.submit({ idea: { premise: "p" }, mode: "auto", overrides: { stages: { writing: { provider: "gemini" } } } }).catch((e) => e);
    expect(stageOnly.message).toContain("GEMINI_API_KEY");
    // The issue names where the request chose the provider.
    expect(err.details.issues.map((i: { path: string }) => i.path)).toEqual(["provider"]);
    expect(stageOnly.details.issues.map((i: { path: string }) => i.path)).toEqual(["overrides.stages.writing.provider"]);
    expect(await store.listRuns({ limit: 10 })).toHaveLength(0);
    await store.close();
  });

  it("takes a key from a Prefect Secret block when the environment has none, and prefers the environment", async () => {
    const blocks: Record<string, string> = { "quire-openai-api-key": "from-block" };
    const fromBlock = new Credentials(providerSettings(), async (name) => blocks[name]);
    expect(await fromBlock.apiKey("openai")).toBe("from-block");
    expect(await fromBlock.apiKey("gemini")).toBeUndefined();
    const fromEnv = new Credentials(providerSettings("from-env"), async (name) => blocks[name]);
    expect(await fromEnv.apiKey("openai")).toBe("from-env");
  });

  it("answers 503 (Prefect out of reach), not 400 'key missing', when the key would come from a Secret block that cannot be read; a key read before is used", async () => {
    const store = await openSqliteStore(":memory:", { migrate: true });
    let prefectUp = false;
    const readSecret = async () => {
      if (!prefectUp) throw new Unavailable("Prefect is not reachable");
      return "from-block";
    };
    const credentials = new Credentials(providerSettings(), readSecret, 0);
    const runs = new RunService(store, graph, { models: { mock: "m", openai: "gpt-x", gemini: "gemini-x" } }, (p) => credentials.availability(p));
    const submit = () => runs.submit({ idea: { premise: "p" }, provider: "openai", mode: "auto" });
    expect(await submit().catch((e) => e)).toBeInstanceOf(Unavailable);
    expect(await store.listRuns({ limit: 10 })).toHaveLength(0);
    // An agent worker scrubs what it can read; a key it cannot read it does not use either.
    expect(await new ProviderRegistry({ settings: providerSettings(), credentials }).secrets()).toEqual([]);
    prefectUp = true;
    await submit();
    prefectUp = false;
    await submit(); // the key read a moment ago
    expect(await store.listRuns({ limit: 10 })).toHaveLength(2);
    await store.close();
  });
});

