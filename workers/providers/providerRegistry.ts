import type { ProviderName } from "../../api/config/stageGraphSchema.js";
import { MockProvider } from "./mockProvider.js";
import { PermanentProviderError, type Provider } from "./provider.js";

/** Picks the adapter for a provider name. OpenAI and Gemini adapters are not built yet (issue 5). */
export class ProviderRegistry {
  private readonly providers = new Map<ProviderName, Provider>();

  constructor(opts: { mockDelayMs?: number } = {}) {
    this.providers.set("mock", new MockProvider(opts.mockDelayMs));
  }

  get(name: ProviderName): Provider {
    const provider = this.providers.get(name);
    if (!provider) throw new PermanentProviderError(`provider "${name}" is not available in this agent worker`);
    return provider;
  }

  names(): ProviderName[] {
    return [...this.providers.keys()];
  }
}
