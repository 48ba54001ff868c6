import type { OutputKind, ProviderName } from "../../api/config/stageGraphSchema.js";

export interface GenerateRequest {
  system: string;
  prompt: string;
  model: string;
  temperature: number;
  maxTokens: number;
  signal?: AbortSignal;
  /** Told of each HTTP call that failed and is about to be made again (the audit records every call). */
  onRetry?: (failed: FailedCall) => Promise<void>;
  /** The shape the answer must have, for providers with structured output. */
  output: { kind: OutputKind; jsonSchema: Record<string, unknown> };
  /** Where the request comes from; real providers ignore it, the mock builds its answer from it. */
  meta: { stepId: string; premise: string; inputs: { stepId: string; heading: string }[]; stageAttempt?: number };
}

export interface GenerateResponse {
  text: string;
  usage: { inputTokens: number; outputTokens: number };
  model: string;
  finishReason: string;
  latencyMs: number;
  /** What the adapter changed in the request, and why (audited with the answer). */
  notes?: string[];
}

/** An HTTP call to a provider that failed and is retried: what went wrong, after how long, and when next. */
export interface FailedCall {
  error: string;
  latencyMs: number;
  /** 1 for the first call of this generate(). */
  call: number;
  retryInMs: number;
}

/** One LLM provider. Adapters live beside this file; the registry picks one by name. */
export interface Provider {
  readonly name: ProviderName;
  generate(request: GenerateRequest): Promise<GenerateResponse>;
}

/** A failure that retrying cannot fix (bad request, bad credentials). */
export class PermanentProviderError extends Error {}
