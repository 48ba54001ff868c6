import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadStageGraph } from "../../api/config/stageGraph.js";
import { runView } from "../../api/runs/runView.js";
import type { RunRecord, StageRunRecord, StepOutputRecord } from "../../api/store/records.js";

const graph = loadStageGraph(resolve(import.meta.dirname, "../../config/stages.yaml"));
const env = { models: { mock: "mock-writer-1", openai: "o", gemini: "g" } };
const links = { gatewayUrl: "http://gw", prefectUiUrl: "http://ui" };
const at = "2026-11-27T07:00:00.000Z";
const run: RunRecord = { id: "r1", status: "running", mode: "auto", category: null, request: { idea: { premise: "p" }, stages: ["idea_intake", "structure"], mode: "auto" }, currentStageId: "structure", error: null, idempotencyKey: null, createdAt: at, updatedAt: at, completedAt: null };
const stage = (attempt: number, status: StageRunRecord["status"], times: Partial<StageRunRecord> = {}): StageRunRecord => ({ runId: "r1", stageId: "structure", attempt, flowRunId: null, status, plannedSteps: 7, createdAt: at, startedAt: null, endedAt: null, ...times });
let id = 0;
const output = (stepId: string, stageAttempt: number, iteration = 1): StepOutputRecord => ({ id: ++id, runId: "r1", stageId: "structure", stageAttempt, stepId, iteration, version: 1, status: "accepted", content: {}, provider: "mock", model: "m", jobId: "j", createdAt: at, supersededAt: null });
const view = (stages: StageRunRecord[], outputs: StepOutputRecord[]) => runView(run, stages, outputs, graph, env, links).stages;

describe("a stage attempt in the run's view", () => {
  it("counts the stage's steps done once it ended, those reused from an earlier attempt too", () => {
    const outputs = [output("S1", 1), output("S2", 1), output("S3", 1), ...["S4", "S5", "S6", "S7"].map((s) => output(s, 2))];
    const [first, second] = view([stage(1, "failed"), stage(2, "completed")], outputs);
    expect([first!.completedSteps, second!.completedSteps]).toEqual([3, 7]); // was 3 and 4 (4/7 for a completed stage)
    expect([first!.current, second!.current]).toEqual([false, true]);
  });

  it("counts a loop's repeated steps once, never more than the stage plans", () => {
    const passes = [1, 2, 3].flatMap((iteration) => ["S3", "S4", "S5", "S6", "S7"].map((s) => output(s, 1, iteration)));
    const [only] = view([stage(1, "completed")], [output("S1", 1), output("S2", 1), ...passes]);
    expect(only!.completedSteps).toBe(7); // was 17 of 7
  });

  it("gives every timestamp in one form, Prefect's included", () => {
    const [only] = view([stage(1, "completed", { startedAt: "2026-11-27T06:37:49.284749+00:00", endedAt: "2026-11-27T08:37:52.414989+01:00" })], []);
    expect([only!.startedAt, only!.endedAt, only!.createdAt]).toEqual(["2026-11-27T06:37:49.284Z", "2026-11-27T07:37:52.414Z", at]);
  });
});

describe("a run's progress in its view", () => {
  const finished = (stepIds: string[]) => stepIds.map((s) => ({ ...output(s, 1), stageId: s === "IDEA" ? "idea_intake" : "structure" }));
  const structureSteps = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"];

  it("counts a running book's steps from the graph as it is now", () => {
    const whole = runView(run, [], finished(["IDEA", "S1"]), graph, env, links);
    expect([whole.completedSteps, whole.plannedSteps, whole.percent]).toEqual([2, 8, 25]);
  });

  it("keeps a completed book whole after the graph changed under it: the steps it ran, 100 %", () => {
    // As if structure had one step fewer when this book ran it (S7 added to the graph since).
    const done = runView({ ...run, status: "completed", completedAt: at }, [], finished(["IDEA", ...structureSteps.slice(0, 6)]), graph, env, links);
    expect([done.completedSteps, done.plannedSteps, done.percent]).toEqual([7, 7, 100]); // was 7 of 8, 87.5 %
  });
});
