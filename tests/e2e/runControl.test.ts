import { describe, expect, inject, it } from "vitest";
import { auditOf, call, events, eventually, helloWorld, midStructure, outputsOf, slowPremise as slow, submitRun as submit, waitForRun } from "./gatewayClient.js";
import { flowRunOf, pausedMidStructure, prefect } from "./prefectView.js";
import { book } from "../fixtures/bookShape.js";

// The gateway's commands (pause, resume, cancel, advance, rollback), retries and guards, on the real stack.
// How the driver follows state changes made in Prefect itself: prefectStates.test.ts.
describe("pause and resume", () => {
  it("pauses mid-stage, shows Suspended in Prefect, and resumes without calling the provider again", async () => {
    const runId = await submit({ ...helloWorld(slow("pause")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    const paused = await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" });
    expect(paused.status).toBe(200);
    expect(["pausing", "paused"]).toContain(paused.body.status);

    const run = await waitForRun(runId, { until: (r) => r.status === "paused" });
    const flowRun = await flowRunOf(runId, "structure");
    expect(flowRun).toMatchObject({ stateType: "PAUSED", stateName: "Suspended" });
    const doneAtPause = run.completedSteps;
    expect(doneAtPause).toBeLessThan(8);
    // The operator's view: the suspended flow run's log in Prefect has every step it did, to its last line
    // (the flow process sends what it still holds as it exits).
    const doneHere = (await outputsOf(runId)).filter((o) => o.stageId === "structure").map((o) => `step ${o.stepId} done`);
    await eventually("the flow run's last log lines in Prefect", async () => {
      const logs = await (await fetch(`${inject("prefectApiUrl")}/logs/filter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ logs: { flow_run_id: { any_: [flowRun!.id] } }, limit: 200 }) })).json();
      return doneHere.every((line) => logs.some((l: { message: string }) => l.message.startsWith(line)));
    }, 15_000);

    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    const finished = await waitForRun(runId);
    expect(finished.status).toBe("completed");
    const outputs = await outputsOf(runId, true);
    expect(outputs.map((o) => o.stepId)).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]);
    expect((await auditOf(runId)).filter((a) => a.outcome === "accepted")).toHaveLength(8); // one provider call per step
    const types = (await events(runId)).map((e) => e.type);
    expect(types.indexOf("run.paused")).toBeLessThan(types.indexOf("run.resumed"));
    // The stream says the pause was asked for while the step in flight finishes.
    if (paused.body.status === "pausing") expect(types.indexOf("run.pausing")).toBeLessThan(types.indexOf("run.paused"));
  });

  it("says so when a pause asked for during the book's last step could not take effect: the book completed first", async () => {
    const runId = await submit({ ...helloWorld(`last-step-pause ${Date.now()} [mock:delay=1500]`), stages: ["idea_intake"] });
    await eventually("IDEA with the provider", async () => (await events(runId)).some((e) => e.type === "step.started" && e.stepId === "IDEA"));
    const res = await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" });
    expect(res.body.status).toBe("pausing");
    expect((await waitForRun(runId)).status).toBe("completed");
    // The flow may suspend itself for the pause after that step: run.paused may come between.
    const runEvents = (await events(runId)).filter((e) => e.type.startsWith("run.") && e.type !== "run.paused");
    expect(runEvents.map((e) => e.type)).toEqual(["run.queued", "run.started", "run.pausing", "run.completed"]);
    expect(runEvents.at(-1).data).toMatchObject({ dropped: "pause" });
  });

  it("takes a pause sent right after submit: paused at the first step boundary, then resumed to the end", async () => {
    const runId = await submit({ ...helloWorld(slow("early-pause")), stages: ["idea_intake", "structure"] });
    const res = await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" });
    expect(res.status).toBe(200);
    await waitForRun(runId, { until: (r) => r.status === "paused" });
    // At most the step already in flight (the book's first, on a flow run that was up and waiting) finished.
    expect((await outputsOf(runId)).map((o) => o.stepId)).not.toContain("S1");
    expect((await outputsOf(runId)).length).toBeLessThanOrEqual(1);
    await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" });
    expect((await waitForRun(runId)).status).toBe("completed");
    expect(await outputsOf(runId)).toHaveLength(8);
  });
});

describe("cancel", () => {
  it("aborts the step in flight: step.cancelled (not step.failed), its call audited as abandoned, after run.cancelling", async () => {
    const runId = await submit({ ...helloWorld(`cancel-in-flight ${Date.now()} [mock:delay=2000]`), stages: ["idea_intake", "structure"] });
    await eventually("S1 with the provider", async () => (await events(runId)).some((e) => e.type === "step.started" && e.stepId === "S1"), 30_000);
    const res = await call(`/orchestrator/runs/${runId}/cancel`, { method: "POST" });
    expect(res.body.status).toBe("cancelling");
    expect((await waitForRun(runId)).status).toBe("cancelled");
    const all = await eventually("the aborted call reported", async () => {
      const list = await events(runId);
      return list.some((e) => e.type === "step.cancelled") ? list : undefined;
    }, 15_000);
    const types = all.map((e) => e.type);
    expect(types.indexOf("run.cancelling")).toBeGreaterThan(types.indexOf("step.started"));
    expect(types.indexOf("run.cancelling")).toBeLessThan(types.indexOf("run.cancelled"));
    expect(all.find((e) => e.type === "step.cancelled")).toMatchObject({ stepId: "S1", status: "cancelled" });
    expect(types).not.toContain("step.failed");
    const s1 = (await auditOf(runId)).filter((a) => a.stepId === "S1");
    expect(s1.map((a) => a.outcome)).toEqual(["abandoned"]);
    expect(s1[0].error).toContain("cancelled");
  });

  it("cancels mid-stage: Prefect reports Cancelled and no output appears after it", async () => {
    const runId = await submit({ ...helloWorld(slow("cancel")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: midStructure });
    const res = await call(`/orchestrator/runs/${runId}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe("cancelled");
    expect((await flowRunOf(runId, "structure"))!.stateType).toBe("CANCELLED");

    // The step in flight may still finish in the agent worker; its result must be abandoned, not accepted.
    const cancelledAt = Date.parse((await events(runId)).find((e) => e.type === "run.cancelled").at);
    await eventually("no step in flight", async () => (await auditOf(runId)).length >= (await outputsOf(runId)).length && !(await events(runId)).some((e) => e.type === "step.started" && Date.parse(e.at) > cancelledAt), 10_000);
    const outputs = await outputsOf(runId, true);
    expect(outputs.every((o) => Date.parse(o.createdAt) <= cancelledAt)).toBe(true);
    expect(outputs.length).toBeLessThan(8);
    expect((await events(runId)).filter((e) => Date.parse(e.at) > cancelledAt && e.type === "step.completed")).toHaveLength(0);
  });
});

describe("manual mode, guards and the structure loop", () => {
  it("stops after each stage until advanced, and answers 409 with the guard's reason", async () => {
    const runId = await submit({ ...helloWorld(`manual ${Date.now()} [mock:not-final]`), stages: ["idea_intake", "structure", "title"], mode: "manual" });
    const afterIntake = await waitForRun(runId, { until: (r) => r.status === "paused" });
    expect(afterIntake.stages.map((s: any) => s.stageId)).toEqual(["idea_intake"]);

    expect((await call(`/orchestrator/runs/${runId}/advance`, { method: "POST" })).status).toBe(200);
    const afterStructure = await waitForRun(runId, { until: (r) => r.status === "paused" && r.stages.length === 2 && r.stages[1].status === "completed" });
    // The review never accepts: S3..S7 ran maxIterations (3) times.
    const s7 = (await outputsOf(runId)).filter((o) => o.stepId === "S7");
    expect(s7.map((o) => [o.iteration, o.content.final])).toEqual([[1, false], [2, false], [3, false]]);
    expect(afterStructure.percent).toBeLessThan(100);

    const refused = await call(`/orchestrator/runs/${runId}/advance`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("structure is not final");
    expect((await call(`/orchestrator/runs/${runId}`)).body.status).toBe("paused");
  });

  it("goes on when advanced past a passing guard", async () => {
    const runId = await submit({ ...helloWorld(`manual-ok ${Date.now()}`), stages: ["idea_intake", "structure", "title"], mode: "manual" });
    for (const stagesDone of [1, 2]) {
      await waitForRun(runId, { until: (r) => r.status === "paused" && r.stages.length === stagesDone && r.stages.at(-1).status === "completed" });
      expect((await call(`/orchestrator/runs/${runId}/advance`, { method: "POST" })).status).toBe(200);
    }
    expect((await waitForRun(runId)).status).toBe("completed");
    // Each advance is reported (run.resumed) before the stage it starts.
    const types = (await events(runId)).filter((e) => ["run.paused", "run.resumed", "stage.started"].includes(e.type)).map((e) => e.type);
    expect(types).toEqual(["stage.started", "run.paused", "run.resumed", "stage.started", "run.paused", "run.resumed", "stage.started"]);
  });
});

describe("retries", () => {
  it("fails the run with a clear reason when a step exhausts its retries, and resumes from that step", async () => {
    const runId = await submit({ ...helloWorld(`retries ${Date.now()} [mock:fail=S2@1]`), stages: ["idea_intake", "structure"] });
    const failed = await waitForRun(runId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain("structure");
    const errors = (await auditOf(runId)).filter((a) => a.outcome === "error");
    expect(errors.map((a) => [a.stepId, a.attempt])).toEqual([["S2", 1], ["S2", 2], ["S2", 3]]);

    expect((await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" })).status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    const accepted = (await auditOf(runId)).filter((a) => a.outcome === "accepted");
    expect(accepted.map((a) => a.stepId)).toEqual(["IDEA", "S1", "S2", "S3", "S4", "S5", "S6", "S7"]); // S1 not called again
    expect(done.stages.filter((s: any) => s.stageId === "structure").map((s: any) => s.attempt)).toEqual([1, 2]);
  });
});

describe("forbidden commands change nothing", () => {
  it("answers 409 to resume a running run, advance a completed one, roll back to a stage not run; 404 to an unknown stage or run", async () => {
    const runId = await submit({ ...helloWorld(slow("forbidden")), stages: ["idea_intake", "structure"] });
    await waitForRun(runId, { until: (r) => r.status === "running" });
    const resume = await call(`/orchestrator/runs/${runId}/resume`, { method: "POST" });
    expect(resume.status).toBe(409);
    expect(resume.body.error.message).toBe("cannot resume a run that is running");
    expect((await call(`/orchestrator/runs/${runId}/rollback`, { body: { toStage: "poetry" } })).status).toBe(404);
    expect((await call(`/orchestrator/runs/${runId}/rollback`, { body: {} })).status).toBe(400);
    expect((await call(`/orchestrator/runs/${runId}/rollback`, { body: { toStage: "title" } })).status).toBe(409);
    expect((await call(`/orchestrator/runs/00000000-0000-0000-0000-000000000000/pause`, { method: "POST" })).status).toBe(404);

    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    const eventCount = (await events(runId)).length;
    const advance = await call(`/orchestrator/runs/${runId}/advance`, { method: "POST" });
    expect(advance.status).toBe(409);
    expect((await call(`/orchestrator/runs/${runId}/cancel`, { method: "POST" })).status).toBe(409);
    expect((await call(`/orchestrator/runs/${runId}`)).body.status).toBe("completed");
    expect(await events(runId)).toHaveLength(eventCount);
  });
});

describe("rollback", () => {
  it("rolls back from writing to title: later outputs superseded and kept, a new attempt completes", async () => {
    const runId = await submit(helloWorld(`rollback ${Date.now()}`));
    expect((await waitForRun(runId)).status).toBe("completed");
    const res = await call(`/orchestrator/runs/${runId}/rollback`, { body: { toStage: "title" } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("running");
    expect(res.body.percent).toBeLessThan(100);

    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    const history = await outputsOf(runId, true);
    const latest = await outputsOf(runId);
    expect(latest).toHaveLength(book.steps);
    const rerun = book.stepsFrom("title");
    expect(history).toHaveLength(book.steps + rerun.length);
    expect(history.filter((o) => o.status === "superseded").map((o) => o.stepId).sort()).toEqual([...rerun].sort());
    expect(latest.filter((o) => rerun.includes(o.stepId)).every((o) => o.version === 2 && o.stageAttempt === 2)).toBe(true);
    expect(latest.filter((o) => !rerun.includes(o.stepId)).every((o) => o.version === 1)).toBe(true);
    const titles = (await call(`/orchestrator/runs/${runId}/outputs/title?history=true`)).body.outputs;
    expect(titles.map((o: any) => [o.version, o.status])).toEqual([[1, "superseded"], [2, "accepted"]]);
    expect(titles[0].supersededBy).toEqual({ id: titles[1].id, version: 2, stageAttempt: 2 });
    expect(titles[0].supersededAt).toBeTruthy();
    const w7Audit = (await call(`/orchestrator/runs/${runId}/audit?stepId=W7&provider=mock`)).body.entries;
    expect(w7Audit.map((a: any) => a.stageAttempt)).toEqual([1, 2]);
    expect((await events(runId)).some((e) => e.type === "run.rolled_back" && e.data.toStage === "title")).toBe(true);
    expect(await prefect().flowRunsTagged([`book:${runId}`])).toHaveLength(book.stages + book.stagesFrom("title").length);
  });

  it("rolls back a run paused mid-stage: its suspended flow run ends Cancelled instead of waiting in Prefect", async () => {
    const { runId, flowRun: suspended } = await pausedMidStructure("rollback-paused");
    expect(suspended.stateType).toBe("PAUSED");
    expect((await call(`/orchestrator/runs/${runId}/rollback`, { body: { toStage: "structure" } })).status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    // The paused attempt's record says it was replaced, not that it is still paused.
    expect(done.stages.map((s: any) => [s.stageId, s.attempt, s.status])).toEqual([["idea_intake", 1, "completed"], ["structure", 1, "superseded"], ["structure", 2, "completed"]]);
    expect((await prefect().readFlowRun(suspended.id)).stateType).toBe("CANCELLED");
    // Nothing of the book is left waiting in Prefect (a dismissed standby flow run takes a moment to end).
    const live = async () => (await prefect().flowRunsTagged([`book:${runId}`])).filter((f) => !["COMPLETED", "CANCELLED"].includes(f.stateType ?? ""));
    await eventually("every flow run of the book ended", async () => (await live()).length === 0);
  });
});
