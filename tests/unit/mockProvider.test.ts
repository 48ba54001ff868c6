import { describe, expect, it } from "vitest";
import { outputJsonSchema, parseOutput } from "../../workers/outputSchemas.js";
import { MockProvider, mockDirectives } from "../../workers/providers/mockProvider.js";
import type { GenerateRequest } from "../../workers/providers/provider.js";

const request = (kind: GenerateRequest["output"]["kind"], prompt = "write"): GenerateRequest => ({
  system: "sys",
  prompt,
  model: "mock-writer-1",
  temperature: 0.5,
  maxTokens: 100,
  output: { kind, jsonSchema: outputJsonSchema(kind) },
  meta: { stepId: "S2", premise: "Habits compound", inputs: [{ stepId: "S1", heading: "S1: themes" }] },
});

describe("MockProvider", () => {
  it("does not wait out its delay for a request aborted before it was made", async () => {
    const controller = new AbortController();
    controller.abort(new Error("run cancelled"));
    const req = request("text");
    const started = performance.now();
    await expect(new MockProvider().generate({ ...req, signal: controller.signal, meta: { ...req.meta, premise: "Slow [mock:delay=5000]" } })).rejects.toThrow("run cancelled");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("gives the same answer to the same request", async () => {
    const mock = new MockProvider();
    expect((await mock.generate(request("list"))).text).toBe((await mock.generate(request("list"))).text);
  });

  it("answers a different prompt differently", async () => {
    const mock = new MockProvider();
    const texts = new Set(await Promise.all(["a", "b", "c", "d", "e"].map(async (p) => (await mock.generate(request("text", p))).text)));
    expect(texts.size).toBeGreaterThan(1);
  });

  it.each(["text", "list", "review", "titles"] as const)("answers valid %s JSON that quotes the premise and its inputs", async (kind) => {
    const res = await new MockProvider().generate(request(kind));
    const parsed = parseOutput(kind, res.text);
    expect(parsed.ok).toBe(true);
    expect(res.text).toContain("Habits compound");
    if (kind === "text") expect(res.text).toContain("S1");
    expect(res.usage.outputTokens).toBeGreaterThan(0);
  });

  it("fails a step in the stage attempt a [mock:fail=S2@1] directive names, and only there", async () => {
    const mock = new MockProvider();
    const req = request("text");
    const failing = { ...req, meta: { ...req.meta, premise: "Habits [mock:fail=S2@1]", stageAttempt: 1 } };
    await expect(mock.generate(failing)).rejects.toThrow("injected failure for S2 in attempt 1");
    await expect(mock.generate({ ...failing, meta: { ...failing.meta, stageAttempt: 2 } })).resolves.toMatchObject({ finishReason: "stop" });
    await expect(mock.generate({ ...failing, meta: { ...failing.meta, stepId: "S3" } })).resolves.toMatchObject({ finishReason: "stop" });
  });

  it("delays the step a scoped [mock:delay=N@STEP] names, over an unscoped delay, and no other", () => {
    expect(mockDirectives("p [mock:delay=2500@S2]", "S2").delayMs).toBe(2500);
    expect(mockDirectives("p [mock:delay=2500@S2]", "S3").delayMs).toBe(0);
    expect(mockDirectives("p [mock:delay=100] [mock:delay=2500@S2]", "S2").delayMs).toBe(2500);
    expect(mockDirectives("p [mock:delay=2500@S2] [mock:delay=100]", "S3").delayMs).toBe(100);
    expect(mockDirectives("p [mock:delay=700]", "IDEA").delayMs).toBe(700);
  });

  it("stops when the request is aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new MockProvider().generate({ ...request("text"), signal: controller.signal })).rejects.toThrow();
  });
});

describe("parseOutput", () => {
  it("names the failing path", () => {
    expect(parseOutput("review", JSON.stringify({ heading: "h", body: "b", final: "yes" }))).toEqual({ ok: false, error: expect.stringContaining("final") });
  });
  it("refuses text that is not JSON", () => {
    expect(parseOutput("text", "Sure! Here is")).toMatchObject({ ok: false, error: expect.stringContaining("not JSON") });
  });
  it("accepts JSON inside a code fence", () => {
    expect(parseOutput("text", '```json\n{"heading":"h","body":"b"}\n```')).toMatchObject({ ok: true });
  });
});
