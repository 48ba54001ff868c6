import type { Credentials } from "../../api/config/credentials.js";
import type { ProviderSettings } from "../../api/config/settings.js";
import type { ProviderName } from "../../api/config/stageGraphSchema.js";
import { GeminiProvider } from "./geminiProvider.js";
import { MockProvider } from "./mockProvider.js";
import { OpenAiProvider } from "./openaiProvider.js";
import { PermanentProviderError, type Provider } from "./provider.js";

/**
 * Picks the adapter for a provider name. OpenAI and Gemini adapters are built when a key is first
 * available (environment or Prefect Secret block) and rebuilt when the key changes.
 */
export class ProviderRegistry {
  private readonly mock: MockProvider;
  private readonly built = new Map<ProviderName, { key: string; provider: Provider }>();

  constructor(private readonly opts: { mockDelayMs?: number; settings?: ProviderSettings; credentials?: Credentials } = {}) {
    this.mock = new MockProvider(opts.mockDelayMs);
  }

  names(): ProviderName[] {
    return ["mock", "openai", "gemini"];
  }

  async get(name: ProviderName): Promise<Provider> {
    if (name === "mock") return this.mock;
    const { settings, credentials } = this.opts;
    const key = settings && credentials ? await credentials.apiKey(name) : undefined;
    if (!settings || !key) throw new PermanentProviderError(`provider "${name}" has no API key in this agent worker (docs/credentials.md)`);
    const cached = this.built.get(name);
    if (cached?.key === key) return cached.provider;
    const common = { apiKey: key, timeoutMs: settings.timeoutMs };
    const provider = name === "openai" ? new OpenAiProvider({ ...common, baseURL: settings.openai.baseUrl, noTemperature: settings.openai.noTemperature }) : new GeminiProvider({ ...common, baseUrl: settings.gemini.baseUrl });
    this.built.set(name, { key, provider });
    return provider;
  }

  /** Secrets to scrub from anything stored or logged. */
  async secrets(): Promise<string[]> {
    const { credentials } = this.opts;
    if (!credentials) return [];
    // A key that cannot be read now (Prefect away, nothing cached) is not used either: nothing to scrub.
    const known = (provider: "openai" | "gemini") => credentials.apiKey(provider).catch(() => undefined);
    return (await Promise.all([known("openai"), known("gemini")])).filter((k): k is string => Boolean(k));
  }
}
