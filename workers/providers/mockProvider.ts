import { createHash } from "node:crypto";
import type { GenerateRequest, GenerateResponse, Provider } from "./provider.js";

const words = ["clear", "grounded", "vivid", "practical", "honest", "patient", "curious", "bold", "careful", "warm"];

/**
 * The deterministic stand-in for an LLM: the same request gives the same answer, and the answer quotes
 * the premise and the headings of the outputs it was given, so a reader can follow the chain.
 */
export class MockProvider implements Provider {
  readonly name = "mock" as const;

  constructor(private readonly delayMs = 0) {}

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    const started = performance.now();
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    req.signal?.throwIfAborted();
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
      review: { heading, body: `${body} The structure holds together.`, final: true },
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
