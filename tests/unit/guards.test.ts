import { describe, expect, it } from "vitest";
import { compileStageGraph, type StageGraph } from "../../api/config/stageGraph.js";
import type { Guard } from "../../api/config/stageGraphSchema.js";
import { evaluateGuard, nextStage, unreachableGuard } from "../../api/runs/guards.js";

// A graph of its own, shaped like the shipped one's first stages: these rules must not change when
// config/stages.yaml does (tests/unit/stageGraph.test.ts pins that file).
const step = (id: string, output: string, reads: string[] = []) => ({ id, agent: "a", output, instruction: "do", reads });
const compiled = compileStageGraph({
  defaults: { provider: "mock", model: "m", temperature: 0.5, maxTokens: 100, timeoutSeconds: 10, retries: 1 },
  stages: [
    { id: "intake", name: "Intake", steps: [step("IDEA", "text")] },
    { id: "structure", name: "Structure", steps: [step("S1", "list", ["IDEA"]), step("S2", "review", ["S1"])] },
    { id: "title", name: "Title", guard: { step: "S2", field: "final", equals: true, reason: "the structure is not final (S2)" }, steps: [step("T1", "titles", ["S2"])] },
    { id: "research", name: "Research", guard: { step: "T1", field: "chosen", reason: "no title has been chosen (T1)" }, steps: [step("R1", "list", ["T1"])] },
  ],
});
if (!("graph" in compiled)) throw new Error(JSON.stringify(compiled.problems));
const graph: StageGraph = compiled.graph;
const titleGuard: Guard = graph.stages[2]!.guard!;
const researchGuard: Guard = graph.stages[3]!.guard!;

describe("evaluateGuard", () => {
  it("lets a stage run when the guarded field equals what the guard asks (the structure review is final)", () => {
    expect(evaluateGuard(titleGuard, new Map([["S2", { final: true }]]))).toEqual({ ok: true });
  });

  it("refuses with the guard's reason when it does not", () => {
    expect(evaluateGuard(titleGuard, new Map([["S2", { final: false }]]))).toEqual({ ok: false, reason: "the structure is not final (S2)" });
  });

  it("refuses when the guarded step has no output at all", () => {
    expect(evaluateGuard(titleGuard, new Map())).toMatchObject({ ok: false });
  });

  it("treats a guard without `equals` as 'the field is set'", () => {
    expect(evaluateGuard(researchGuard, new Map([["T1", { chosen: "A Title" }]]))).toEqual({ ok: true });
    expect(evaluateGuard(researchGuard, new Map([["T1", { chosen: "" }]]))).toMatchObject({ ok: false });
  });

  it("treats a guard without `field` as 'the step has an output'", () => {
    expect(evaluateGuard({ step: "IDEA", reason: "no idea" }, new Map([["IDEA", { heading: "h" }]]))).toEqual({ ok: true });
  });

  it("lets a stage without a guard run", () => {
    expect(evaluateGuard(undefined, new Map())).toEqual({ ok: true });
  });
});

describe("nextStage", () => {
  const all = graph.stages.map((s) => s.id);
  it("starts with the first chosen stage and walks them in graph order", () => {
    expect(nextStage(graph, all, null)?.id).toBe("intake");
    expect(nextStage(graph, all, "structure")?.id).toBe("title");
    expect(nextStage(graph, ["title", "intake", "structure"], "structure")?.id).toBe("title");
  });
  it("ends after the last chosen stage", () => {
    expect(nextStage(graph, all, "research")).toBeUndefined();
    expect(nextStage(graph, ["intake"], "intake")).toBeUndefined();
  });
});

describe("unreachableGuard", () => {
  it("accepts every stage in order", () => {
    expect(unreachableGuard(graph, graph.stages.map((s) => s.id))).toBeUndefined();
  });
  it("names a stage whose guarded step's stage is left out, with the guard's reason", () => {
    expect(unreachableGuard(graph, ["intake", "title"])).toMatchObject({ stageId: "title", reason: expect.stringContaining("the structure is not final") });
  });
});
