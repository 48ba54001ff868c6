import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { bundleIssues, stageListIssues } from "../../api/runs/graphIssues.js";
import { RunBundle } from "../../api/store/runBundle.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const at = "2026-11-26T08:00:00.000Z";

/** A small finished run of the first two stages, as GET .../export writes it. */
function bundle(): RunBundle {
  const output = (stageId: string, stepId: string, version = 1, status: "accepted" | "superseded" = "accepted") => ({
    id: version, runId: "r1", stageId, stageAttempt: 1, stepId, iteration: 1, version, status, content: { heading: stepId }, provider: "mock", model: "m", jobId: `j-${stepId}-${version}`, createdAt: at, supersededAt: status === "superseded" ? at : null,
  });
  return RunBundle.parse({
    format: "quire-run/1",
    exportedAt: at,
    run: { id: "r1", status: "completed", mode: "auto", category: null, request: { idea: { premise: "p" }, stages: ["idea_intake", "structure"], mode: "auto" }, currentStageId: "structure", error: null, createdAt: at, completedAt: at },
    stageRuns: ["idea_intake", "structure"].map((stageId) => ({ runId: "r1", stageId, attempt: 1, flowRunId: null, status: "completed", plannedSteps: 1, createdAt: at, startedAt: at, endedAt: at })),
    outputs: [output("idea_intake", "IDEA"), output("structure", "S1", 1, "superseded"), output("structure", "S1", 2)],
    audit: [{ stageId: "idea_intake", stageAttempt: 1, stepId: "IDEA", iteration: 1, jobId: "j", attempt: 1, provider: "mock", model: "m", temperature: 0.7, maxTokens: 10, request: {}, response: null, outcome: "accepted", error: null, inputTokens: 1, outputTokens: 1, latencyMs: 3, finishReason: "stop", createdAt: at }],
    events: [1, 2].map((seq) => ({ seq, at, type: "run.queued", percent: 0 })),
  });
}

const pathsOf = (damage: (b: RunBundle) => void) => {
  const b = bundle();
  damage(b);
  return bundleIssues(b, graph).map((i) => i.path);
};

describe("bundleIssues", () => {
  it("finds nothing wrong with a run that fits the stage graph (a superseded and an accepted version of one step included)", () => {
    expect(bundleIssues(bundle(), graph)).toEqual([]);
  });

  it.each<[string, (b: RunBundle) => void, string]>([
    ["an unknown stage in the request", (b) => b.run.request.stages.push("poetry"), "run.request.stages.2"],
    ["a stage listed twice", (b) => b.run.request.stages.push("structure"), "run.request.stages"],
    ["an override for an unknown stage", (b) => (b.run.request.overrides = { stages: { poetry: { model: "x" } } }), "run.request.overrides.stages.poetry"],
    ["a current stage the run does not plan", (b) => (b.run.currentStageId = "writing"), "run.currentStageId"],
    ["a stage run of a stage the run does not plan", (b) => (b.stageRuns[0]!.stageId = "writing"), "stageRuns.0.stageId"],
    ["an output of a step its stage does not have", (b) => (b.outputs[0]!.stepId = "S1"), "outputs.0.stepId"],
    ["an output of a stage the run does not plan", (b) => (b.outputs[0]!.stageId = "writing"), "outputs.0.stageId"],
    ["an audit entry of a step its stage does not have", (b) => (b.audit[0]!.stepId = "T1"), "audit.0.stepId"],
    ["an event of a stage the run does not plan", (b) => (b.events[0]!.stageId = "writing"), "events.0.stageId"],
    ["an event of a step its stage does not have", (b) => Object.assign(b.events[0]!, { stageId: "idea_intake", stepId: "S1" }), "events.0.stepId"],
    ["an event of a step without its stage", (b) => (b.events[0]!.stepId = "IDEA"), "events.0.stepId"],
    ["a stage attempt twice", (b) => b.stageRuns.push({ ...b.stageRuns[1]! }), "stageRuns.2"],
    ["a step's version twice", (b) => b.outputs.push({ ...b.outputs[0]! }), "outputs.3"],
    ["two accepted outputs of one step and iteration", (b) => (b.outputs[1]!.status = "accepted"), "outputs.2"],
    ["an event seq twice", (b) => (b.events[1]!.seq = 1), "events.1"],
  ])("names %s", (_what, damage, path) => {
    expect(pathsOf(damage)).toContain(path);
  });
});

describe("stageListIssues", () => {
  it("names unknown stages, unknown overrides and a repeated stage, under the given path", () => {
    expect(stageListIssues(graph, ["idea_intake", "poetry", "idea_intake"], ["verse"], ["request"]).map((i) => i.path)).toEqual(["request.stages.1", "request.overrides.stages.verse", "request.stages"]);
    expect(stageListIssues(graph, ["idea_intake", "structure"], ["structure"])).toEqual([]);
  });

  it("refuses stages listed out of the graph's order, naming the order they run in (a rollback reads the list)", () => {
    expect(stageListIssues(graph, ["idea_intake", "title", "structure"], [])).toEqual([{ path: "stages", message: "stages run in the graph's order: list them as idea_intake, structure, title" }]);
    expect(stageListIssues(graph, ["structure", "title"], [])).toEqual([]);
  });
});
