import { createHash } from "node:crypto";
import type { GenerateRequest, GenerateResponse, Provider } from "./provider.js";

const words = ["clear", "grounded", "vivid", "practical", "honest", "patient", "curious", "bold", "careful", "warm"];

/**
 * Directives a test (or a curious user) can put in the premise to make the mock behave like a real
 * model on a bad day: `[mock:delay=1500]` (each answer takes 1.5 s), `[mock:delay=2500@S2]` (step S2's
 * answers take 2.5 s; it wins over an unscoped delay for that step), `[mock:not-final]` (reviews never
 * accept), `[mock:fail=S4@1]` (every call for step S4 in attempt 1 of its stage fails with a retryable
 * error; keyed by attempt, not by a count, so it holds whichever agent worker gets the call).
 */
export function mockDirectives(premise: string, stepId: string) {
  const delays = [...premise.matchAll(/\[mock:delay=(\d+)(?:@([A-Z0-9]+))?\]/g)];
  const delay = delays.find((d) => d[2] === stepId) ?? delays.find((d) => d[2] === undefined);
  const fail = /\[mock:fail=([A-Z0-9]+)@(\d+)\]/.exec(premise);
  return {
    delayMs: delay ? Number(delay[1]) : 0,
    notFinal: premise.includes("[mock:not-final]"),
    fail: fail ? { stepId: fail[1]!, stageAttempt: Number(fail[2]) } : null,
  };
}

/**
 * The deterministic stand-in for an LLM: the same request gives the same answer, and the answer quotes
 * the premise and the headings of the outputs it was given, so a reader can follow the chain.
 */
export class MockProvider implements Provider {
  readonly name = "mock" as const;

  constructor(private readonly delayMs = 0) {}

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    const started = performance.now();
    const directives = mockDirectives(req.meta.premise, req.meta.stepId);
    const delayMs = this.delayMs + directives.delayMs;
    if (delayMs) await sleep(delayMs, req.signal);
    req.signal?.throwIfAborted();
    const fail = directives.fail;
    if (fail && fail.stepId === req.meta.stepId && fail.stageAttempt === (req.meta.stageAttempt ?? 1)) {
      throw new Error(`mock: injected failure for ${req.meta.stepId} in attempt ${fail.stageAttempt}`);
    }
    const digest = createHash("sha256").update(`${req.system}\n${req.prompt}\n${req.model}`).digest();
    const word = (i: number) => words[digest[i]! % words.length]!;
    const { stepId, premise, inputs } = req.meta;
    const heading = `${stepId}: a ${word(0)} take on "${premise}"`;
    const from = inputs.length ? ` Building on ${inputs.map((i) => `${i.stepId} ("${i.heading}")`).join(", ")}.` : "";
    const body = `For the book about "${premise}", step ${stepId} gives a ${word(1)}, ${word(2)} answer.${from}`;
    const items = [1, 2, 3].map((n) => `${stepId}.${n}: ${word(n + 2)} point on "${premise}"`);
    const content = {
      text: { heading, body },
      list: { heading, items },
      review: directives.notFinal ? { heading, body: `${body} This still has gaps.`, final: false } : { heading, body: `${body} This holds together.`, final: true },
      titles: { heading, candidates: items.map((_, n) => `The ${word(n + 5)} Book of ${premise.split(" ").slice(0, 3).join(" ")}`), chosen: `The ${word(5)} Book of ${premise.split(" ").slice(0, 3).join(" ")}` },
    }[req.output.kind];
    const text = JSON.stringify(content);
    return {
      text,
      usage: { inputTokens: Math.ceil((req.system.length + req.prompt.length) / 4), outputTokens: Math.ceil(text.length / 4) },
      model: req.model,
      finishReason: "stop",
      latencyMs: performance.now() - started,
    };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted")); // aborted before the call
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error("aborted"));
    }, { once: true });
  });
}
