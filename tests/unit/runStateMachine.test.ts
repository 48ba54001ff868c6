import { describe, expect, it } from "vitest";
import { decide, type RunCommand, type RunFacts } from "../../api/runs/runStateMachine.js";
import { runStatuses, type RunStatus } from "../../api/store/records.js";

const stages = ["idea_intake", "structure", "title"];
const facts = (over: Partial<RunFacts> = {}): RunFacts => ({
  status: "running",
  mode: "auto",
  currentStage: { stageId: "structure", attempt: 1, status: "running" },
  flowRunActive: true,
  next: { stageId: "title", guard: { ok: true } },
  chosenStages: stages,
  startedStages: ["idea_intake", "structure"],
  ...over,
});
const boundary = (over: Partial<RunFacts> = {}) => facts({ status: "paused", currentStage: { stageId: "structure", attempt: 1, status: "completed" }, flowRunActive: false, ...over });

const commands: RunCommand[] = [{ type: "pause" }, { type: "resume" }, { type: "cancel" }, { type: "advance" }, { type: "rollback", toStage: "structure" }];

/** For every status, which commands are allowed (with a live flow run, mid-stage). */
const allowedMidStage: Record<RunStatus, RunCommand["type"][]> = {
  queued: ["pause", "cancel"],
  running: ["pause", "cancel"],
  pausing: ["resume", "cancel"],
  paused: ["resume", "cancel", "rollback"],
  cancelling: [],
  completed: ["rollback"],
  failed: ["resume", "cancel", "rollback"],
  cancelled: [],
};

describe("decide: every command in every status", () => {
  for (const status of runStatuses) {
    for (const command of commands) {
      const allowed = allowedMidStage[status].includes(command.type);
      it(`${allowed ? "allows" : "refuses"} ${command.type} when ${status}`, () => {
        const decision = decide(facts({ status, flowRunActive: !["completed", "failed", "cancelled", "queued"].includes(status) }), command);
        expect(decision.ok).toBe(allowed);
        if (!decision.ok) expect(decision.reason).toMatch(/\w/);
      });
    }
  }
});

describe("pause", () => {
  it("asks the flow to hold and Prefect to suspend when a stage runs", () => {
    expect(decide(facts(), { type: "pause" })).toEqual({ ok: true, status: "pausing", event: "run.pausing", effects: [{ type: "holdFlow" }, { type: "suspendFlowRun" }] });
  });
  it("pauses at once between stages (no flow run live)", () => {
    expect(decide(facts({ flowRunActive: false }), { type: "pause" })).toMatchObject({ ok: true, status: "paused" });
  });
  it("holds a queued run before its first stage", () => {
    expect(decide(facts({ status: "queued", currentStage: null, flowRunActive: false }), { type: "pause" })).toMatchObject({ ok: true, status: "paused" });
  });
  it("refuses a second pause", () => {
    expect(decide(facts({ status: "paused" }), { type: "pause" })).toMatchObject({ ok: false, reason: "cannot pause a run that is paused" });
  });
});

describe("resume", () => {
  it("releases the hold and resumes the suspended flow run", () => {
    expect(decide(facts({ status: "paused" }), { type: "resume" })).toEqual({
      ok: true,
      status: "running",
      event: "run.resumed",
      effects: [{ type: "releaseHold" }, { type: "resumeFlowRun" }],
    });
  });
  it("starts the next stage from a boundary when its guard passes", () => {
    expect(decide(boundary(), { type: "resume" })).toMatchObject({ ok: true, effects: expect.arrayContaining([{ type: "startStage", stageId: "title" }]) });
  });
  it("refuses at a boundary whose next guard fails, with the guard's reason", () => {
    expect(decide(boundary({ next: { stageId: "title", guard: { ok: false, reason: "structure is not final" } } }), { type: "resume" })).toEqual({ ok: false, reason: "cannot start title: structure is not final" });
  });
  it("starts a failed stage again, reusing accepted outputs", () => {
    expect(decide(facts({ status: "failed", flowRunActive: false, currentStage: { stageId: "structure", attempt: 1, status: "failed" } }), { type: "resume" })).toMatchObject({
      ok: true,
      status: "running",
      event: "run.resumed",
      effects: [{ type: "startStage", stageId: "structure" }],
    });
  });
  it("ends the book's waiting standby when it is paused or cancelled with no flow run live (the driver, which ends it otherwise, is not involved)", () => {
    const between = { status: "running" as const, flowRunActive: false, currentStage: { stageId: "structure", attempt: 1, status: "completed" as const } };
    for (const command of [{ type: "pause" }, { type: "cancel" }] as const) expect(decide(facts(between), command)).toMatchObject({ ok: true, effects: expect.arrayContaining([{ type: "dismissStandby" }]) });
    expect(decide(facts({ status: "queued", currentStage: null, flowRunActive: false }), { type: "pause" })).toMatchObject({ effects: [{ type: "dismissStandby" }] });
    // With a flow run live, the driver's pause or cancel ends it (runAdvancer.ts).
    expect(decide(facts(), { type: "pause" })).toMatchObject({ effects: expect.not.arrayContaining([{ type: "dismissStandby" }]) });
  });

  it("refuses to resume a run that failed on the next stage's guard while it still fails (it would only fail again), saying what helps", () => {
    const failedAtBoundary = { status: "failed" as const, flowRunActive: false, currentStage: { stageId: "structure", attempt: 1, status: "completed" as const } };
    expect(decide(facts({ ...failedAtBoundary, next: { stageId: "title", guard: { ok: false, reason: "structure is not final" } } }), { type: "resume" })).toEqual({
      ok: false,
      reason: "cannot start title: structure is not final; roll back to structure to run it again",
    });
    // Once the guard passes (an earlier rollback's new attempt completed final), resume goes on to the next stage.
    expect(decide(facts(failedAtBoundary), { type: "resume" })).toMatchObject({ ok: true, status: "running", effects: [{ type: "releaseHold" }, { type: "startStage", stageId: "title" }] });
    // Failed with its last stage completed (imported from an export taken just then): resume lets the driver complete it.
    expect(decide(facts({ ...failedAtBoundary, next: null }), { type: "resume" })).toEqual({ ok: true, status: "running", event: "run.resumed", effects: [] });
  });
  it("starts a stage whose flow run ended while paused again, but not one whose flow run finished it (the driver records its end)", () => {
    const paused = { status: "paused" as const, flowRunActive: false, currentStage: { stageId: "structure", attempt: 1, status: "running" as const } };
    expect(decide(facts(paused), { type: "resume" })).toMatchObject({ ok: true, status: "running", effects: expect.arrayContaining([{ type: "startStage", stageId: "structure" }]) });
    expect(decide(facts({ ...paused, flowRunCompleted: true }), { type: "resume" })).toEqual({ ok: true, status: "running", event: "run.resumed", effects: [{ type: "releaseHold" }] });
  });
  it("puts a run paused before its first stage back in the queue", () => {
    expect(decide(facts({ status: "paused", currentStage: null, flowRunActive: false }), { type: "resume" })).toMatchObject({ ok: true, status: "queued" });
  });
});

describe("cancel", () => {
  it("cancels the live flow run and waits for Prefect", () => {
    expect(decide(facts(), { type: "cancel" })).toEqual({ ok: true, status: "cancelling", event: "run.cancelling", effects: [{ type: "releaseHold" }, { type: "cancelFlowRun" }] });
  });
  it("cancels at once when nothing runs, ending a stage run no flow run will report on", () => {
    expect(decide(boundary(), { type: "cancel" })).toEqual({ ok: true, status: "cancelled", event: "run.cancelled", endStageRuns: "cancelled", effects: [{ type: "releaseHold" }, { type: "dismissStandby" }] });
  });
  it("refuses a completed run", () => {
    expect(decide(facts({ status: "completed", flowRunActive: false }), { type: "cancel" })).toMatchObject({ ok: false });
  });
});

describe("advance", () => {
  it("starts the next stage of a run paused at a boundary", () => {
    expect(decide(boundary({ mode: "manual" }), { type: "advance" })).toMatchObject({ ok: true, status: "running", effects: expect.arrayContaining([{ type: "startStage", stageId: "title" }]) });
  });
  it("answers with the guard's reason when the next stage's guard fails", () => {
    const decision = decide(boundary({ mode: "manual", next: { stageId: "title", guard: { ok: false, reason: "structure is not final" } } }), { type: "advance" });
    expect(decision).toEqual({ ok: false, reason: "cannot start title: structure is not final" });
  });
  it("refuses a run paused mid-stage", () => {
    expect(decide(facts({ status: "paused" }), { type: "advance" })).toMatchObject({ ok: false, reason: expect.stringContaining("between two stages") });
  });
  it("refuses when there is no next stage", () => {
    expect(decide(boundary({ next: null }), { type: "advance" })).toMatchObject({ ok: false });
  });
});

describe("rollback", () => {
  it("supersedes from the stage with the status (one write) and starts it again without reusing outputs", () => {
    expect(decide(facts({ status: "completed", flowRunActive: false }), { type: "rollback", toStage: "idea_intake" })).toEqual({
      ok: true,
      status: "running",
      event: "run.rolled_back",
      rollBackTo: "idea_intake",
      effects: [
        { type: "releaseHold" },
        { type: "startStage", stageId: "idea_intake" },
      ],
    });
  });
  it("cancels the suspended flow run of a stage paused mid-way before starting the new attempt", () => {
    const pausedMidStage = facts({ status: "paused", currentStage: { stageId: "structure", attempt: 1, status: "paused" }, flowRunActive: true });
    const decision = decide(pausedMidStage, { type: "rollback", toStage: "idea_intake" });
    expect(decision.ok && decision.effects.map((e) => e.type)).toEqual(["releaseHold", "cancelFlowRun", "startStage"]);
  });
  it("refuses a stage outside the run, or one that has not run", () => {
    expect(decide(facts({ status: "completed" }), { type: "rollback", toStage: "writing" })).toMatchObject({ ok: false, reason: "stage writing is not part of this run" });
    expect(decide(facts({ status: "completed" }), { type: "rollback", toStage: "title" })).toMatchObject({ ok: false, reason: expect.stringContaining("has not run yet") });
  });
  it("asks for a pause first when the run is running", () => {
    expect(decide(facts(), { type: "rollback", toStage: "structure" })).toMatchObject({ ok: false, reason: expect.stringContaining("pause it first") });
  });
  it("refuses a stage after the current one, even one that ran before an earlier rollback (it would skip the stages between)", () => {
    // Ran to title, rolled back to structure, paused in it: title has run, but is ahead.
    const rolledBack = facts({ status: "paused", currentStage: { stageId: "structure", attempt: 2, status: "paused" }, flowRunActive: false, startedStages: ["idea_intake", "structure", "title"] });
    expect(decide(rolledBack, { type: "rollback", toStage: "title" })).toMatchObject({ ok: false, reason: expect.stringContaining("comes after the current stage structure") });
    expect(decide(rolledBack, { type: "rollback", toStage: "structure" })).toMatchObject({ ok: true });
    expect(decide(rolledBack, { type: "rollback", toStage: "idea_intake" })).toMatchObject({ ok: true });
  });
});
