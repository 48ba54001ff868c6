import { describe, expect, it } from "vitest";
import { call, events, helloWorld, midStructure, stackControl, waitForRun } from "./gatewayClient.js";
import { prefect } from "./prefectView.js";
import { book } from "../fixtures/bookShape.js";

describe("gateway restart", () => {
  it("survives a SIGKILL of the gateway mid-run: no stage started twice, no output lost or duplicated", async () => {
    const submitted = await call("/orchestrator/run", { body: helloWorld(`restart ${Date.now()} [mock:delay=150]`) });
    const runId = submitted.body.runId;
    await waitForRun(runId, { until: midStructure });

    await stackControl("kill", "gateway");
    await stackControl("restart", "gateway");

    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    const flowRuns = await prefect().flowRunsTagged([`book:${runId}`]);
    expect(flowRuns).toHaveLength(book.stages);
    expect(new Set(flowRuns.map((f) => f.tags.find((t) => t.startsWith("stage:")))).size).toBe(book.stages);
    const outputs = (await call(`/orchestrator/runs/${runId}/outputs?history=true`)).body.outputs;
    expect(outputs).toHaveLength(book.steps);
    const audit = (await call(`/orchestrator/runs/${runId}/audit`)).body.entries;
    expect(audit.filter((a: any) => a.outcome === "accepted")).toHaveLength(book.steps);
    const completedStages = (await events(runId)).filter((e) => e.type === "stage.completed").map((e) => e.stageId);
    expect(new Set(completedStages).size).toBe(completedStages.length);
  });

  it("drives a run submitted just before the kill once the gateway is back", async () => {
    const submitted = await call("/orchestrator/run", { body: { ...helloWorld(`restart-queued ${Date.now()}`), stages: ["idea_intake"] } });
    await stackControl("kill", "gateway");
    await stackControl("restart", "gateway");
    const run = await waitForRun(submitted.body.runId);
    expect(run.status).toBe("completed");
    // The stage got one flow run, even if the kill fell between handing it a waiting one and recording that.
    const flowRuns = await prefect().flowRunsTagged([`book:${run.runId}`]);
    expect(flowRuns.map((f) => f.id)).toEqual([run.stages[0].flowRunId]);
  });
});
