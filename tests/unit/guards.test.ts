import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { evaluateGuard, nextStage, unreachableGuard } from "../../api/runs/guards.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const titleGuard = graph.stages.find((s) => s.id === "title")!.guard;
const researchGuard = graph.stages.find((s) => s.id === "research_prompts")!.guard;

describe("evaluateGuard", () => {
  it("lets titles run when the structure review is final", () => {
    expect(evaluateGuard(titleGuard, new Map([["S7", { final: true }]]))).toEqual({ ok: true });
  });

  it("refuses titles with the guard's reason when the structure is not final", () => {
    expect(evaluateGuard(titleGuard, new Map([["S7", { final: false }]]))).toEqual({ ok: false, reason: expect.stringContaining("structure is not final") });
  });

  it("refuses when the guarded step has no output at all", () => {
    expect(evaluateGuard(titleGuard, new Map())).toMatchObject({ ok: false });
  });

  it("treats a guard without `equals` as 'the field is set'", () => {
    expect(evaluateGuard(researchGuard, new Map([["T1", { chosen: "A Title" }]]))).toEqual({ ok: true });
    expect(evaluateGuard(researchGuard, new Map([["T1", { chosen: "" }]]))).toMatchObject({ ok: false });
  });

  it("lets a stage without a guard run", () => {
    expect(evaluateGuard(undefined, new Map())).toEqual({ ok: true });
  });
});

describe("nextStage", () => {
  const all = graph.stages.map((s) => s.id);
  it("starts with the first chosen stage and walks them in graph order", () => {
    expect(nextStage(graph, all, null)?.id).toBe("idea_intake");
    expect(nextStage(graph, all, "structure")?.id).toBe("title");
    expect(nextStage(graph, ["title", "idea_intake", "structure"], "structure")?.id).toBe("title");
  });
  it("ends after the last chosen stage", () => {
    expect(nextStage(graph, all, "writing")).toBeUndefined();
    expect(nextStage(graph, ["idea_intake"], "idea_intake")).toBeUndefined();
  });
});

describe("unreachableGuard", () => {
  it("accepts every stage in order", () => {
    expect(unreachableGuard(graph, graph.stages.map((s) => s.id))).toBeUndefined();
  });
  it("names titles when the structure stage is left out", () => {
    expect(unreachableGuard(graph, ["idea_intake", "title"])).toMatchObject({ stageId: "title", reason: expect.stringContaining("structure is not final") });
  });
});
