import { SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";

const tracer = trace.getTracer("quire");

/**
 * Runs `fn` inside an OpenTelemetry span. Without a registered tracer provider (the default) the API is
 * a no-op, so this costs nothing; an operator who registers one (e.g. with --import of an OTel SDK
 * set-up) gets a span per stage launch and per step.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
