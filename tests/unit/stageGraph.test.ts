import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { allSteps, compileStageGraph, loadStageGraph } from "../../api/config/stageGraph.js";

const stagesFile = resolve(import.meta.dirname, "../../config/stages.yaml");

const minimal = () => ({
  defaults: { provider: "mock", model: "m", temperature: 0.5, maxTokens: 100, timeoutSeconds: 10, retries: 1 },
  stages: [
    { id: "one", name: "One", steps: [{ id: "A1", agent: "a", output: "text", instruction: "do", reads: [] }] },
    { id: "two", name: "Two", guard: { step: "A1", reason: "needs A1" }, steps: [{ id: "B1", agent: "b", output: "review", instruction: "do", reads: ["A1"] }] },
  ],
});

describe("config/stages.yaml", () => {
  it("declares the seven stages and 29 steps in order", () => {
    const graph = loadStageGraph(stagesFile);
    expect(graph.stages.map((s) => s.id)).toEqual(["idea_intake", "structure", "title", "research_prompts", "fact_mapping", "emotional_layer", "writing"]);
    expect(allSteps(graph).map((s) => s.id)).toEqual([
      "IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "T1", "R1", "R2", "R3", "I0", "M1", "M2", "M3", "E1", "E2", "E3",
      "G1", "G2", "G3", "W1", "W2", "W3", "W4", "W5", "W6", "W7",
    ]);
  });

  it("guards titles on a final structure", () => {
    const title = loadStageGraph(stagesFile).stages.find((s) => s.id === "title")!;
    expect(title.guard).toMatchObject({ step: "S7", field: "final", equals: true });
  });

  it("resolves settings: defaults, then stage defaults, then the step", () => {
    const graph = loadStageGraph(stagesFile);
    const s1 = allSteps(graph).find((s) => s.id === "S1")!;
    const w1 = allSteps(graph).find((s) => s.id === "W1")!;
    expect(s1).toMatchObject({ provider: "mock", temperature: 0.5, maxTokens: 2000 });
    expect(w1).toMatchObject({ temperature: 0.7, maxTokens: 4000 });
  });
});

describe("compileStageGraph", () => {
  it("compiles a valid graph", () => {
    const result = compileStageGraph(minimal());
    expect("graph" in result && result.graph.stages[1]!.steps[0]!.reads).toEqual(["A1"]);
  });

  it.each([
    ["a read of a later step", (c: any) => (c.stages[0].steps[0].reads = ["B1"]), ["stages", 0, "steps", 0, "reads", 0]],
    ["a step id used twice", (c: any) => (c.stages[1].steps[0].id = "A1"), ["stages", 1, "steps", 0, "id"]],
    ["a guard on its own stage", (c: any) => (c.stages[1].guard.step = "B1"), ["stages", 1, "guard", "step"]],
    ["a wrong type", (c: any) => (c.defaults.temperature = "hot"), ["defaults", "temperature"]],
    ["an unknown output kind", (c: any) => (c.stages[0].steps[0].output = "poem"), ["stages", 0, "steps", 0, "output"]],
    ["an unknown key", (c: any) => (c.stages[0].colour = "red"), ["stages", 0]],
    ["a loop that does not end on a review", (c: any) => (c.stages[0].loop = { from: "A1", to: "A1", until: "final", maxIterations: 2 }), ["stages", 0, "loop", "to"]],
    // A guard or loop that can never (or always) pass: before, each compiled and failed (or passed) every book.
    ["a guard field its step's output does not have", (c: any) => (c.stages[1].guard.field = "finl"), ["stages", 1, "guard", "field"]],
    ["a guard's equals without a field (it was ignored: the guard always passed)", (c: any) => (c.stages[1].guard.equals = true), ["stages", 1, "guard", "equals"]],
    ["a guard's equals its field can never hold", (c: any) => Object.assign(c.stages[1].guard, { field: "heading", equals: true }), ["stages", 1, "guard", "equals"]],
    ["a loop until a field that is not a review's true/false", (c: any) => (c.stages[1].loop = { from: "B1", to: "B1", until: "heading", maxIterations: 2 }), ["stages", 1, "loop", "until"]],
  ])("names the field for %s", (_name, mutate, path) => {
    const config = minimal();
    mutate(config);
    const result = compileStageGraph(config);
    expect("problems" in result && result.problems.map((p) => p.path)).toContainEqual(path);
  });

  it("takes a guard on a field of its step's output, with a value that field can hold, and a loop until a review's final", () => {
    const config: any = minimal();
    config.stages.push({ id: "three", name: "Three", guard: { step: "B1", field: "final", equals: true, reason: "B1 not final" }, loop: { from: "C1", to: "C1", until: "final", maxIterations: 2 }, steps: [{ id: "C1", agent: "c", output: "review", instruction: "do", reads: [] }] });
    config.stages[1].guard.field = "heading";
    expect(compileStageGraph(config)).toHaveProperty("graph");
  });

  it("keeps a model with the provider it was set with", () => {
    const config: any = minimal();
    config.stages[0].defaults = { provider: "openai" };
    config.stages[1].defaults = { provider: "mock" };
    config.stages[1].steps[0].provider = "gemini";
    config.stages[1].steps[0].model = "gemini-pro";
    const result = compileStageGraph(config);
    if (!("graph" in result)) throw new Error(JSON.stringify(result.problems));
    const [a1, b1] = result.graph.stages.map((s) => s.steps[0]!);
    // A stage moved to OpenAI does not inherit the mock's model name; a step naming its model keeps it.
    expect(a1).toMatchObject({ provider: "openai", temperature: 0.5 });
    expect(a1!.model).toBeUndefined();
    expect(b1).toMatchObject({ provider: "gemini", model: "gemini-pro" });
    expect(compileStageGraph(minimal())).toMatchObject({ graph: { stages: [{ steps: [{ provider: "mock", model: "m" }] }, {}] } });
  });

  it("reports the file and line of the wrong field", () => {
    const dir = mkdtempSync(join(tmpdir(), "stages-"));
    const file = join(dir, "stages.yaml");
    writeFileSync(file, ["defaults: { provider: mock, model: m, temperature: 0.5, maxTokens: 100, timeoutSeconds: 10, retries: 1 }", "stages:", "  - id: one", "    name: One", "    steps:", "      - { id: A1, agent: a, output: text, instruction: do, reads: [ZZ] }", ""].join("\n"));
    expect(() => loadStageGraph(file)).toThrow(`${file}:6: stages.0.steps.0.reads.0: step "A1" reads "ZZ", which is not an earlier step`);
  });
});
