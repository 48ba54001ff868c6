import type { ProviderName } from "./stageGraphSchema.js";
import type { ProviderSettings } from "./settings.js";

/** The Prefect Secret block an operator can create for each provider's key (docs/credentials.md). */
export const secretBlockNames = { openai: "quire-openai-api-key", gemini: "quire-gemini-api-key" } as const;
export const keyVariables = { openai: "OPENAI_API_KEY", gemini: "GEMINI_API_KEY" } as const;

type RemoteProvider = Exclude<ProviderName, "mock">;

/**
 * Where each provider's API key comes from: the environment first, then (when enabled) a Prefect Secret
 * block, read at most every `ttlMs`, so a key set in the Prefect UI is picked up without a restart.
 * Keys are only handed to the adapters; nothing here logs or stores them.
 */
export class Credentials {
  private readonly cache = new Map<RemoteProvider, { value: string | undefined; at: number }>();

  constructor(
    private readonly settings: ProviderSettings,
    private readonly readSecret: ((blockName: string) => Promise<string | undefined>) | undefined,
    private readonly ttlMs = 15_000,
  ) {}

  async apiKey(provider: RemoteProvider): Promise<string | undefined> {
    const fromEnv = this.settings[provider].apiKey;
    if (fromEnv) return fromEnv;
    if (!this.settings.secretBlocks || !this.readSecret) return undefined;
    const cached = this.cache.get(provider);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.value;
    // Prefect out of reach: the key read last time, if any; else its error (a 503), since saying the key is
    // missing would tell the client to fix what is not broken.
    const value = await this.readSecret(secretBlockNames[provider]).catch((err) => {
      if (cached) return cached.value;
      throw err;
    });
    this.cache.set(provider, { value, at: Date.now() });
    return value;
  }

  /** Whether a run may use the provider, and what is missing when it may not. */
  async availability(provider: ProviderName): Promise<{ available: true } | { available: false; missing: string }> {
    if (provider === "mock") return { available: true };
    if (await this.apiKey(provider)) return { available: true };
    const blockHint = this.settings.secretBlocks ? ` (or a Prefect Secret block named ${secretBlockNames[provider]})` : "";
    return { available: false, missing: `${keyVariables[provider]}${blockHint}` };
  }
}
