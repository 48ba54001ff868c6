import { z } from "zod";
import type { OutputKind } from "../api/config/stageGraphSchema.js";

/** What each kind of step must answer. An answer that fails its schema is not accepted. */
export const outputSchemas = {
  text: z.strictObject({ heading: z.string().min(1), body: z.string().min(1) }),
  list: z.strictObject({ heading: z.string().min(1), items: z.array(z.string().min(1)).min(1) }),
  review: z.strictObject({ heading: z.string().min(1), body: z.string().min(1), final: z.boolean() }),
  titles: z.strictObject({ heading: z.string().min(1), candidates: z.array(z.string().min(1)).min(1), chosen: z.string().min(1) }),
} satisfies Record<OutputKind, z.ZodType>;

export type StepOutputContent = z.infer<(typeof outputSchemas)[OutputKind]>;

/** JSON Schema of a kind, given to providers that support structured output. */
export function outputJsonSchema(kind: OutputKind): Record<string, unknown> {
  return z.toJSONSchema(outputSchemas[kind]) as Record<string, unknown>;
}

/** Parses a provider's text as JSON and validates it; the error names the failing paths. */
export function parseOutput(kind: OutputKind, text: string): { ok: true; content: StepOutputContent } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = jsonIn(text);
  } catch (err) {
    return { ok: false, error: `the answer is not JSON: ${(err as Error).message}` };
  }
  const parsed = outputSchemas[kind].safeParse(json);
  if (parsed.success) return { ok: true, content: parsed.data };
  return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ") };
}

/**
 * The JSON of an answer: the whole text, else the first fenced block (```json, any case, text around it),
 * else from the first `{` to the last `}`. Models without a JSON mode (an OpenAI-compatible endpoint) wrap
 * their JSON so, and a repair round would get the same wrapping back.
 */
function jsonIn(text: string): unknown {
  const trimmed = text.trim();
  const fenced = /```[A-Za-z]*[^\S\n]*\n?([\s\S]*?)```/.exec(trimmed)?.[1];
  const braces = trimmed.slice(trimmed.indexOf("{"), trimmed.lastIndexOf("}") + 1);
  let firstError: unknown;
  for (const candidate of [trimmed, fenced, braces]) {
    if (!candidate) continue;
    try {
      return JSON.parse(candidate);
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}
