import { ApiError, GoogleGenAI } from "@google/genai";
import { type GenerateRequest, type GenerateResponse, PermanentProviderError, type Provider } from "./provider.js";
import { redactSecrets } from "./redact.js";
import { type CallFailure, defaultRetryPolicy, parseRetryAfter, type RetryPolicy, withRetries } from "./retryPolicy.js";

export interface GeminiSettings {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
  retry?: RetryPolicy;
}

/**
 * Gemini generateContent through Google's maintained SDK, `@google/genai` (the successor of the
 * deprecated `@google/generative-ai`). The SDK's own retries are off; ours honour Retry-After and
 * Gemini's RetryInfo, which the SDK does not expose, so a fetch wrapper notes them per call.
 */
export class GeminiProvider implements Provider {
  readonly name = "gemini" as const;

  constructor(private readonly settings: GeminiSettings) {}

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    let callStarted = 0; // the latency recorded is the answered call's, not the failed calls' before it
    let retryAfterMs: number | undefined;
    const noteRetryAfter: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      retryAfterMs = res.ok ? undefined : (parseRetryAfter(res.headers) ?? (await retryInfoDelay(res.clone())));
      return res;
    };
    const client = new GoogleGenAI({
      apiKey: this.settings.apiKey,
      httpOptions: { baseUrl: this.settings.baseUrl, timeout: this.settings.timeoutMs, retryOptions: { attempts: 1 }, fetch: noteRetryAfter },
    });
    const response = await withRetries(
      () => {
        callStarted = performance.now();
        return client.models.generateContent({
          model: req.model,
          contents: [{ role: "user", parts: [{ text: req.prompt }] }],
          config: {
            systemInstruction: req.system,
            temperature: req.temperature,
            maxOutputTokens: req.maxTokens,
            responseMimeType: "application/json",
            responseJsonSchema: req.output.jsonSchema,
            abortSignal: req.signal,
          },
        });
      },
      (err): CallFailure => {
        if (req.signal?.aborted) return { aborted: true };
        if (err instanceof ApiError) return { status: err.status, retryAfterMs };
        return { transport: true };
      },
      this.settings.retry ?? defaultRetryPolicy,
      req.signal,
      (err) => `Gemini: ${redactSecrets((err as Error).message, [this.settings.apiKey])}`,
      req.onRetry,
    );
    const text = response.text;
    const candidate = response.candidates?.[0];
    if (!text) {
      // A blocked prompt, a safety stop or an answer cut off by maxOutputTokens: the same request gets the
      // same, so the step fails now rather than pay for it again.
      const blocked = response.promptFeedback?.blockReason;
      const finish = String(candidate?.finishReason ?? "none");
      const reason = blocked ? `the prompt was blocked: ${blocked}` : `finish reason ${finish}`;
      const message = `Gemini returned no text (${reason})${finish === "MAX_TOKENS" ? "; raise the step's maxTokens" : ""}`;
      throw blocked || deterministicStops.has(finish) ? new PermanentProviderError(message) : new Error(message);
    }
    const usage = response.usageMetadata;
    return {
      text,
      // A thinking model's thoughts are output tokens too (billed as such).
      usage: { inputTokens: usage?.promptTokenCount ?? 0, outputTokens: (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0) },
      model: response.modelVersion ?? req.model,
      finishReason: String(candidate?.finishReason ?? "unknown"),
      latencyMs: performance.now() - callStarted,
    };
  }
}

/** Finish reasons without text that the same request meets again (anything else, e.g. OTHER, is tried again). */
const deterministicStops = new Set(["MAX_TOKENS", "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"]);

/** Gemini's 429 body carries google.rpc.RetryInfo with `retryDelay: "7s"`. */
async function retryInfoDelay(res: Response): Promise<number | undefined> {
  try {
    const body = (await res.json()) as { error?: { details?: { "@type"?: string; retryDelay?: string }[] } };
    const info = body.error?.details?.find((d) => d["@type"]?.endsWith("RetryInfo"));
    const seconds = info?.retryDelay ? Number.parseFloat(info.retryDelay) : Number.NaN;
    return Number.isFinite(seconds) ? seconds * 1000 : undefined;
  } catch {
    return undefined;
  }
}
