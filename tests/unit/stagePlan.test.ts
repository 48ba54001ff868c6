import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compileStageGraph, loadStageGraph } from "../../api/config/stageGraph.js";
import { planStage, providerAndModel, providersOfRun } from "../../api/runs/stagePlan.js";
import type { RunRequest } from "../../api/store/records.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const models = { mock: "mock-writer-1", openai: "gpt-test", gemini: "gemini-test" };
const request = (extra: Partial<RunRequest> = {}): RunRequest => ({ idea: { premise: "p" }, stages: graph.stages.map((s) => s.id), mode: "auto", ...extra });

describe("planStage", () => {
  it("uses the config file when nothing overrides it", () => {
    const plan = planStage(graph, request(), "structure", { models });
    expect(plan.steps[0]).toMatchObject({ stepId: "S1", provider: "mock", model: "mock-writer-1", temperature: 0.5, maxTokens: 2000, inputs: ["IDEA"] });
    expect(plan.loop).toEqual({ from: "S3", to: "S7", until: "final", maxIterations: 3 });
  });

  it("lets the environment's provider beat the config file and takes that provider's default model", () => {
    const step = planStage(graph, request(), "title", { provider: "openai", models }).steps[0]!;
    expect(step).toMatchObject({ provider: "openai", model: "gpt-test" });
  });

  it("lets the request beat the environment, and a stage override beat the request", () => {
    const req = request({ provider: "gemini", overrides: { temperature: 0.1, stages: { writing: { provider: "openai", model: "gpt-big", maxTokens: 9000 } } } });
    const title = planStage(graph, req, "title", { provider: "openai", models }).steps[0]!;
    const w1 = planStage(graph, req, "writing", { provider: "mock", models }).steps.find((s) => s.stepId === "W1")!;
    expect(title).toMatchObject({ provider: "gemini", model: "gemini-test", temperature: 0.1 });
    expect(w1).toMatchObject({ provider: "openai", model: "gpt-big", temperature: 0.1, maxTokens: 9000 });
  });

  it("takes overrides.provider as the top-level provider, and keeps a top-level model off a stage sent to another provider", () => {
    const req = request({ overrides: { provider: "gemini", model: "gemini-big", stages: { writing: { provider: "openai" }, title: { provider: "gemini" } } } });
    expect(planStage(graph, req, "structure", { models }).steps[0]).toMatchObject({ provider: "gemini", model: "gemini-big" });
    expect(planStage(graph, req, "title", { models }).steps[0]).toMatchObject({ provider: "gemini", model: "gemini-big" });
    expect(planStage(graph, req, "writing", { models }).steps[0]).toMatchObject({ provider: "openai", model: "gpt-test" });
    expect(providersOfRun(graph, req, { models })).toEqual(new Set(["gemini", "openai"])); // both need credentials
  });

  it("gives a step whose config names a provider but no model that provider's default model", () => {
    const shape = compileStageGraph({
      defaults: { provider: "mock", model: "mock-writer-1", temperature: 0.5, maxTokens: 100, timeoutSeconds: 10, retries: 1 },
      stages: [{ id: "one", name: "One", defaults: { provider: "openai" }, steps: [{ id: "A1", agent: "a", output: "text", instruction: "do" }] }],
    });
    if (!("graph" in shape)) throw new Error(JSON.stringify(shape.problems));
    const req = { idea: { premise: "p" }, stages: ["one"], mode: "auto" as const };
    expect(planStage(shape.graph, req, "one", { models }).steps[0]).toMatchObject({ provider: "openai", model: "gpt-test" });
    expect(planStage(shape.graph, { ...req, overrides: { model: "gpt-big" } }, "one", { models }).steps[0]).toMatchObject({ model: "gpt-big" });
    expect(providerAndModel(shape.graph.stages[0]!.steps[0]!, { provider: "gemini", models })).toEqual({ provider: "gemini", model: "gemini-test" });
  });

  it("collects every provider a run would use", () => {
    const req = request({ overrides: { stages: { writing: { provider: "gemini" } } } });
    expect([...providersOfRun(graph, req, { models })].sort()).toEqual(["gemini", "mock"]);
  });
});
