import { describe, expect, inject, it } from "vitest";
import { auditOf, call, events, eventually, helloWorld, midStructure, outputsOf, slowPremise as slow, stackControl, submitRun as submit, waitForRun } from "./gatewayClient.js";
import { flowRunOf, pausedMidStructure, prefect } from "./prefectView.js";

// How the run driver follows a stage's flow run when its state changes outside the gateway's own plan: a
// resume or a state set by hand in the Prefect UI, a resume that finds the paused flow's process still
// going. These exercise Prefect and the driver, not the store, so they run in the SQLite pass only.
describe("state changes made in Prefect", () => {
  it("lets the flow process go on when resume comes while the paused step is still running (no second process)", async () => {
    const runId = await submit({ ...helloWorld(`resume-in-flight ${Date.now()} [mock:delay=2000@S1]`), stages: ["idea_intake", "structure"] });
    await eventually("S1 started", async () => (await events(runId)).find((e) => e.type === "step.started" && e.stepId === "S1"));
    expect((await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" })).body.status).toBe("pausing");
    const flowRun = await eventually("Suspended in Prefect", async () => {
      const view = await flowRunOf(runId, "structure");
      return view?.stateType === "PAUSED" && view;
    });
    // S1 is still with the agent worker (2 s): the flow process that runs it is alive.
    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).body.status).toBe("running");
    expect((await waitForRun(runId)).status).toBe("completed");
    // Prefect's resume would have rescheduled the flow run (a second Scheduled) for a second process.
    expect((await prefect().stateHistory(flowRun.id)).filter((t) => t === "SCHEDULED")).toHaveLength(1);
    expect((await events(runId)).filter((e) => e.type === "step.started" && e.stepId === "S1")).toHaveLength(1);
    expect(await outputsOf(runId)).toHaveLength(8);
  });

  it("asks the provider once per step when Prefect's own Resume (the UI's) comes while the paused step is still running: a second flow process waits for the first's call", async () => {
    const runId = await submit({ ...helloWorld(`ui-resume-in-flight ${Date.now()} [mock:delay=4000@S1]`), stages: ["idea_intake", "structure"] });
    await eventually("S1 started", async () => (await events(runId)).find((e) => e.type === "step.started" && e.stepId === "S1"));
    expect((await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" })).body.status).toBe("pausing");
    const flowRun = await eventually("Suspended in Prefect", async () => {
      const view = await flowRunOf(runId, "structure");
      return view?.stateType === "PAUSED" && view;
    });
    // S1 is still with the agent worker: Prefect starts a second process for the flow run beside the first.
    await prefect().resume(flowRun.id);
    expect((await waitForRun(runId)).status).toBe("completed");
    const audit = await auditOf(runId);
    expect(audit.map((a) => a.outcome).filter((o) => o !== "accepted")).toEqual([]);
    expect(audit.map((a) => a.stepId).sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
  });

  it("notices a resume sent to Prefect's own REST endpoint, as the UI does", async () => {
    const { runId, flowRun } = await pausedMidStructure("ui-resume");
    await prefect().resume(flowRun.id);

    await waitForRun(runId, { until: (r) => r.status !== "paused" });
    const resumed = await eventually("run.resumed by prefect", async () => (await events(runId)).find((e) => e.type === "run.resumed"));
    expect(resumed.data.by).toBe("prefect");
    expect((await waitForRun(runId)).status).toBe("completed");
    expect(await outputsOf(runId)).toHaveLength(8);
  });

  // What the Prefect UI's "Change state" sends.
  const setState = (flowRunId: string, type: string, message: string) =>
    fetch(`${inject("prefectApiUrl")}/flow_runs/${flowRunId}/set_state`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ state: { type, name: type[0] + type.slice(1).toLowerCase(), message }, force: true }),
    });

  it("reports a cancel made in the Prefect UI (a forced Cancelling on the running stage) as Prefect's, with the reason", async () => {
    const runId = await submit({ ...helloWorld(slow("ui-cancel")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    const flowRun = (await flowRunOf(runId, "structure"))!;
    expect((await setState(flowRun.id, "CANCELLING", "")).ok).toBe(true);
    const run = await waitForRun(runId);
    expect(run.status).toBe("cancelled");
    expect(run.error).toBe("cancelled in Prefect (its UI or API)");
    expect((await events(runId)).at(-1)).toMatchObject({ type: "run.cancelled", data: { by: "prefect" } });
  });

  const failsWithTheMissingSteps = async (runId: string) => {
    const failed = await waitForRun(runId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/stage structure: .* steps .*S7 have no output/);
    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("completed");
    expect((await outputsOf(runId)).map((o) => o.stepId).sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
  };

  it("fails the run with the reason when its stage's flow run is marked Completed by hand mid-stage; resume runs the missing steps", async () => {
    const runId = await submit({ ...helloWorld(slow("marked-completed")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    expect((await setState((await flowRunOf(runId, "structure"))!.id, "COMPLETED", "marked by an operator")).ok).toBe(true);
    await failsWithTheMissingSteps(runId);
  });

  it("gives the same reason when the flow's process, still going, then failed the flow run before the gateway saw it Completed", async () => {
    const runId = await submit({ ...helloWorld(slow("marked-then-failed")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    const flowRunId = (await flowRunOf(runId, "structure"))!.id;
    // Prefect lets the process move the flow run on to Failed ("UnfinishedRun"), often before the next poll;
    // with the gateway down meanwhile, it only ever sees Failed, with the Completed in the state history.
    await stackControl("kill", "gateway");
    expect((await setState(flowRunId, "COMPLETED", "marked by an operator")).ok).toBe(true);
    expect((await setState(flowRunId, "FAILED", "Flow run encountered an exception. UnfinishedRun")).ok).toBe(true);
    await stackControl("restart", "gateway");
    await failsWithTheMissingSteps(runId);
  });

  it("fails the run with the reason when an operator deletes its stage's flow run in Prefect; resume runs the stage again", async () => {
    const runId = await submit({ ...helloWorld(slow("deleted-flow-run")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    const flowRunId = (await flowRunOf(runId, "structure"))!.id;
    expect((await fetch(`${inject("prefectApiUrl")}/flow_runs/${flowRunId}`, { method: "DELETE" })).status).toBe(204); // the UI's Delete
    const failed = await waitForRun(runId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain(`its flow run ${flowRunId} is no longer in Prefect`);
    // Every command still reads the run (no 404 for the flow run Prefect lost): resume starts a new attempt.
    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.stages.filter((s: any) => s.stageId === "structure").map((s: any) => [s.attempt, s.status])).toEqual([[1, "failed"], [2, "completed"]]);
    expect((await outputsOf(runId)).map((o) => o.stepId).sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
  });

  it("keeps a paused book paused when its suspended flow run ends meanwhile in Prefect (failed there as a Suspend past its timeout, or deleted); resume runs the stage again", async () => {
    for (const end of ["failed", "deleted"] as const) {
      const { runId, flowRun } = await pausedMidStructure(`paused-then-${end}`);
      if (end === "failed") expect((await setState(flowRun.id, "FAILED", "The flow was paused and never resumed.")).ok).toBe(true); // what Prefect's pause expiry sets
      else expect((await fetch(`${inject("prefectApiUrl")}/flow_runs/${flowRun.id}`, { method: "DELETE" })).status).toBe(204);
      const stageFailed = await eventually("stage.failed", async () => (await events(runId)).find((e) => e.type === "stage.failed"));
      expect(stageFailed.data).toMatchObject({ attempt: 1, flowRunId: flowRun.id });
      expect((await call(`/orchestrator/runs/${runId}`)).body.status).toBe("paused");
      expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
      expect((await waitForRun(runId)).status).toBe("completed");
      expect((await outputsOf(runId)).map((o) => o.stepId).sort()).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
    }
  });

  it("resumes a flow run that suspended itself for a hold a resume had just released, rather than pause the book", async () => {
    const runId = await submit({ ...helloWorld(slow("hold-race")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    // What the flow does when it read the hold flag a moment before a resume released it: it suspends
    // itself with the flag's key (the gateway's keys start "quire-"), after the run is running again.
    await prefect().suspend((await flowRunOf(runId, "structure"))!.id, `quire-race-${Date.now()}`);
    const run = await waitForRun(runId, { timeoutMs: 60_000 });
    expect(run.status).toBe("completed");
    expect((await events(runId)).filter((e) => e.type === "run.paused")).toEqual([]);
    expect(await outputsOf(runId)).toHaveLength(8);
  });

  it("cancels a flow run an operator left in a blocking pause, which Prefect will not move to Cancelling", async () => {
    const runId = await submit({ ...helloWorld(`blocking-pause ${Date.now()}`), stages: ["idea_intake"] });
    expect((await waitForRun(runId)).status).toBe("completed");
    const flowRunId = (await flowRunOf(runId, "idea_intake"))!.id;
    // What "Change state" to Paused sends: a pause that keeps its process (no reschedule), not a suspend.
    expect((await setState(flowRunId, "PAUSED", "paused by an operator")).ok).toBe(true);
    expect(await prefect().readFlowRun(flowRunId)).toMatchObject({ stateType: "PAUSED", stateName: "Paused" });
    await prefect().cancel(flowRunId);
    expect(await prefect().readFlowRun(flowRunId)).toMatchObject({ stateType: "CANCELLED" });
  });
});
