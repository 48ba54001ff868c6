import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { isLastStepOfStage, stageStepsDone, stepsWithoutOutput } from "../../api/runs/stageSteps.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const stage = (id: string) => graph.stages.find((s) => s.id === id)!;
const out = (stepId: string, content: Record<string, unknown> = {}, iteration = 1) => ({ stepId, iteration, content });
const structureThrough = (iteration: number, final: boolean) => ["S1", "S2", "S3", "S4", "S5", "S6", "S7"].map((id) => out(id, id === "S7" ? { final } : {}, id < "S3" ? 1 : iteration));

describe("stageStepsDone", () => {
  it("is done when every step of a stage without a loop has an output", () => {
    expect(stageStepsDone(stage("research_prompts"), [out("R1"), out("R2"), out("R3")])).toBe(true);
  });

  it("is not done while a step has no output", () => {
    expect(stageStepsDone(stage("research_prompts"), [out("R1"), out("R3")])).toBe(false);
    expect(stageStepsDone(stage("title"), [])).toBe(false);
  });

  it("is not done when the loop's review asks for another round (the flow goes back to the loop's start)", () => {
    expect(stageStepsDone(stage("structure"), structureThrough(1, false))).toBe(false);
  });

  it("is done when the review says final", () => {
    expect(stageStepsDone(stage("structure"), structureThrough(2, true))).toBe(true);
  });

  it("is done after the last allowed round even if the review never said final", () => {
    const max = stage("structure").loop!.maxIterations;
    expect(stageStepsDone(stage("structure"), structureThrough(max - 1, false))).toBe(false);
    expect(stageStepsDone(stage("structure"), structureThrough(max, false))).toBe(true);
  });

  it("treats a loop that ends before the last step as over once the last step has run", () => {
    const shape = { steps: [{ id: "A" }, { id: "B" }, { id: "C" }], loop: { from: "A", to: "B", until: "ok", maxIterations: 3 } };
    expect(stageStepsDone(shape, [out("A"), out("B", { ok: false })])).toBe(false);
    expect(stageStepsDone(shape, [out("A"), out("B", { ok: false }), out("C")])).toBe(true);
  });
});

describe("isLastStepOfStage", () => {
  it("names the step whose accepted output may end its stage", () => {
    expect(isLastStepOfStage(graph.stages, "structure", "S7")).toBe(true);
    expect(isLastStepOfStage(graph.stages, "structure", "S6")).toBe(false);
    expect(isLastStepOfStage(graph.stages, "unknown", "S7")).toBe(false);
  });
});

describe("stepsWithoutOutput", () => {
  it("lists, in the stage's order, the steps with no accepted output", () => {
    const steps = stage("structure").steps;
    expect(stepsWithoutOutput(steps, [out("S2"), out("S1")])).toEqual(["S3", "S4", "S5", "S6", "S7"]);
    expect(stepsWithoutOutput(steps, steps.map((s) => out(s.id)))).toEqual([]);
  });
});
