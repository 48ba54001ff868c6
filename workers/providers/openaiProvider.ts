import OpenAI from "openai";
import type { GenerateRequest, GenerateResponse, Provider } from "./provider.js";
import { type CallFailure, defaultRetryPolicy, parseRetryAfter, type RetryPolicy, withRetries } from "./retryPolicy.js";
import { redactSecrets } from "./redact.js";

export interface OpenAiSettings {
  apiKey: string;
  baseURL?: string;
  timeoutMs: number;
  retry?: RetryPolicy;
}

/** OpenAI chat completions through the official `openai` SDK (its own retries off: ours honour Retry-After). */
export class OpenAiProvider implements Provider {
  readonly name = "openai" as const;
  private readonly client: OpenAI;

  constructor(private readonly settings: OpenAiSettings) {
    this.client = new OpenAI({ apiKey: settings.apiKey, baseURL: settings.baseURL, maxRetries: 0, timeout: settings.timeoutMs });
  }

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    const started = performance.now();
    const completion = await withRetries(
      () =>
        this.client.chat.completions.create(
          {
            model: req.model,
            temperature: req.temperature,
            max_completion_tokens: req.maxTokens,
            messages: [
              { role: "system", content: req.system },
              { role: "user", content: req.prompt },
            ],
            response_format: { type: "json_schema", json_schema: { name: req.output.kind, schema: req.output.jsonSchema, strict: false } },
          },
          { signal: req.signal },
        ),
      classifyOpenAiError,
      this.settings.retry ?? defaultRetryPolicy,
      req.signal,
      (err) => `OpenAI: ${redactSecrets((err as Error).message, [this.settings.apiKey])}`,
      req.onRetry,
    );
    const choice = completion.choices[0];
    if (!choice?.message.content) throw new Error(`OpenAI returned no content (finish reason ${choice?.finish_reason ?? "none"})`);
    return {
      text: choice.message.content,
      usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
      model: completion.model ?? req.model,
      finishReason: choice.finish_reason ?? "unknown",
      latencyMs: performance.now() - started,
    };
  }
}

function classifyOpenAiError(err: unknown): CallFailure {
  if (err instanceof OpenAI.APIUserAbortError) return { aborted: true };
  if (err instanceof OpenAI.APIConnectionError) return { transport: true }; // includes timeouts
  if (err instanceof OpenAI.APIError) return { status: err.status, retryAfterMs: parseRetryAfter(err.headers) };
  return { transport: true }; // e.g. a body that is not JSON: worth one more try
}
