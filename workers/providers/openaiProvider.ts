import OpenAI from "openai";
import { type GenerateRequest, type GenerateResponse, PermanentProviderError, type Provider } from "./provider.js";
import { type CallFailure, defaultRetryPolicy, parseRetryAfter, type RetryPolicy, withRetries } from "./retryPolicy.js";
import { redactSecrets } from "./redact.js";

export interface OpenAiSettings {
  apiKey: string;
  baseURL?: string;
  timeoutMs: number;
  retry?: RetryPolicy;
  /** Models that take only their default temperature (reasoning models): they are sent none. */
  noTemperature?: RegExp;
}

/** OpenAI chat completions through the official `openai` SDK (its own retries off: ours honour Retry-After). */
export class OpenAiProvider implements Provider {
  readonly name = "openai" as const;
  private readonly client: OpenAI;

  constructor(private readonly settings: OpenAiSettings) {
    this.client = new OpenAI({ apiKey: settings.apiKey, baseURL: settings.baseURL, maxRetries: 0, timeout: settings.timeoutMs });
  }

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    let callStarted = 0; // the latency recorded is the answered call's, not the failed calls' before it
    const sendsTemperature = !this.settings.noTemperature?.test(req.model);
    const completion = await withRetries(
      () => {
        callStarted = performance.now();
        return this.client.chat.completions.create(
          {
            model: req.model,
            ...(sendsTemperature ? { temperature: req.temperature } : {}),
            max_completion_tokens: req.maxTokens,
            messages: [
              { role: "system", content: req.system },
              { role: "user", content: req.prompt },
            ],
            response_format: { type: "json_schema", json_schema: { name: req.output.kind, schema: req.output.jsonSchema, strict: false } },
          },
          { signal: req.signal },
        );
      },
      classifyOpenAiError,
      this.settings.retry ?? defaultRetryPolicy,
      req.signal,
      (err) => `OpenAI: ${redactSecrets((err as Error).message, [this.settings.apiKey])}`,
      req.onRetry,
    );
    const choice = completion.choices[0];
    // The same request gets the same refusal or cut-off answer: the step fails now rather than pay for it again.
    if (choice?.message.refusal) throw new PermanentProviderError(`OpenAI refused the step: ${choice.message.refusal}`);
    if (!choice?.message.content) {
      const reason = choice?.finish_reason ?? "none";
      const message = `OpenAI returned no content (finish reason ${reason})${reason === "length" ? "; raise the step's maxTokens" : ""}`;
      throw reason === "length" || reason === "content_filter" ? new PermanentProviderError(message) : new Error(message);
    }
    return {
      text: choice.message.content,
      usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
      model: completion.model ?? req.model,
      finishReason: choice.finish_reason ?? "unknown",
      latencyMs: performance.now() - callStarted,
      ...(sendsTemperature ? {} : { notes: [`temperature ${req.temperature} not sent: ${req.model} takes only its default (OPENAI_NO_TEMPERATURE_MODELS)`] }),
    };
  }
}

function classifyOpenAiError(err: unknown): CallFailure {
  if (err instanceof OpenAI.APIUserAbortError) return { aborted: true };
  if (err instanceof OpenAI.APIConnectionError) return { transport: true }; // includes timeouts
  // A 429 with insufficient_quota is a key without credit, not a rate limit: it does not pass by waiting.
  if (err instanceof OpenAI.APIError) return { status: err.status, retryAfterMs: parseRetryAfter(err.headers), permanent: err.code === "insufficient_quota" };
  return { transport: true }; // e.g. a body that is not JSON: worth one more try
}
