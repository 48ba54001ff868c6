import { type FailedCall, PermanentProviderError } from "./provider.js";

/** What went wrong with one provider call, as far as retrying is concerned. */
export interface CallFailure {
  /** HTTP status, when the provider answered. */
  status?: number;
  /** The provider's Retry-After (header, or Gemini's RetryInfo), in milliseconds. */
  retryAfterMs?: number;
  /** The call timed out or the connection failed. */
  transport?: boolean;
  /** Our own abort (the run was cancelled): never retried. */
  aborted?: boolean;
  /** The provider says trying again cannot help, whatever the status (OpenAI's 429 `insufficient_quota`: no credit left). */
  permanent?: boolean;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Decides whether to try a failed provider call again and after how long: 429, 5xx, 408 and transport
 * failures are retried with exponential backoff and full jitter, or as long as the provider's Retry-After
 * when it gave one (at most `maxDelayMs`); anything else (400, 401, 403, 404 ...), a failure the provider
 * calls permanent and an abort are final. Pure but for `random`.
 */
export function retryDecision(failure: CallFailure, attempt: number, policy: RetryPolicy, random = Math.random): { retry: false } | { retry: true; delayMs: number } {
  if (failure.aborted || failure.permanent || attempt >= policy.attempts) return { retry: false };
  const retryable = failure.transport || failure.status === 408 || failure.status === 429 || (failure.status !== undefined && failure.status >= 500);
  if (!retryable) return { retry: false };
  if (failure.retryAfterMs !== undefined) return { retry: true, delayMs: Math.min(failure.retryAfterMs, policy.maxDelayMs) };
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.round(random() * cap) };
}

/** Parses a Retry-After header (seconds or an HTTP date) or a retry-after-ms header. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const value = headers?.get("retry-after");
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Calls `fn` until it succeeds, the policy says stop, or `signal` aborts. `classify` turns an SDK's error
 * into a CallFailure; a final failure with a 4xx status (but 408, 429), or one called permanent, becomes a
 * PermanentProviderError.
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  classify: (err: unknown) => CallFailure,
  policy: RetryPolicy,
  signal?: AbortSignal,
  describe = (err: unknown) => (err as Error).message,
  onRetry?: (failed: FailedCall) => Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      return await fn(attempt);
    } catch (err) {
      const failure = classify(err);
      if (signal?.aborted) failure.aborted = true;
      const decision = retryDecision(failure, attempt, policy);
      if (!decision.retry) {
        const clientError = failure.status !== undefined && failure.status >= 400 && failure.status < 500 && failure.status !== 408 && failure.status !== 429;
        if (failure.permanent || clientError) {
          throw new PermanentProviderError(describe(err), { cause: err });
        }
        throw err;
      }
      await onRetry?.({ error: describe(err), latencyMs: performance.now() - started, call: attempt, retryInMs: decision.delayMs });
      await sleep(decision.delayMs, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
