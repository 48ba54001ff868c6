import { describe, expect, it } from "vitest";
import { CANCELLED_IN_PREFECT, decideAfterStage, reactToFlowRun, type FlowRunEffect, type FlowRunFacts } from "../../api/runs/flowRunReaction.js";
import type { RunStatus } from "../../api/store/records.js";

const facts = (over: Partial<FlowRunFacts> = {}): FlowRunFacts => ({
  runStatus: "running",
  stageId: "structure",
  stageStatus: "running",
  state: "RUNNING",
  message: null,
  lastStage: false,
  processGone: false,
  stepsDone: false,
  stepInFlight: false,
  pausedByHold: false,
  markedCompleted: false,
  stepsMissing: [],
  attemptsSinceCommand: 1,
  crashRetries: 3,
  ...over,
});
const summary = (effects: FlowRunEffect[]) => effects.map((e) => e.type + ("status" in e ? `:${e.status}` : "")).join(" ") || "-";
const react = (over: Partial<FlowRunFacts>) => summary(reactToFlowRun(facts(over)));

/** Every Prefect state with every status the driver drives, the stage attempt running and nothing else known. */
const table: Record<string, Record<Exclude<RunStatus, "completed" | "failed" | "cancelled">, string>> = {
  // A cancelling run whose flow run is not Cancelling: the cancel was cut short before it reached Prefect.
  SCHEDULED: { queued: "-", running: "-", pausing: "-", paused: "-", cancelling: "announceCancel cancelFlowRun" },
  PENDING: { queued: "-", running: "-", pausing: "-", paused: "-", cancelling: "announceCancel cancelFlowRun" },
  RUNNING: { queued: "-", running: "-", pausing: "suspendFlowRun", paused: "-", cancelling: "announceCancel cancelFlowRun" },
  PAUSED: { queued: "markStage:paused", running: "markStage:paused setRun:paused", pausing: "markStage:paused setRun:paused", paused: "markStage:paused", cancelling: "announceCancel cancelFlowRun" },
  CANCELLING: { queued: "-", running: "announceCancel setRun:cancelling", pausing: "announceCancel setRun:cancelling", paused: "announceCancel setRun:cancelling", cancelling: "-" },
  COMPLETED: { queued: "completeStage", running: "completeStage", pausing: "completeStage", paused: "completeStage", cancelling: "completeStage" },
  CANCELLED: {
    queued: "announceCancel markStage:cancelled releaseHold finish:cancelled",
    running: "announceCancel markStage:cancelled releaseHold finish:cancelled",
    pausing: "announceCancel markStage:cancelled releaseHold finish:cancelled",
    paused: "announceCancel markStage:cancelled releaseHold finish:cancelled",
    cancelling: "markStage:cancelled releaseHold finish:cancelled",
  },
  CRASHED: {
    queued: "tidyCrashed markStage:failed finish:failed",
    running: "tidyCrashed markStage:failed startStageAgain",
    pausing: "tidyCrashed markStage:failed setRun:paused",
    paused: "tidyCrashed markStage:failed",
    cancelling: "tidyCrashed markStage:failed finish:cancelled",
  },
  FAILED: { queued: "markStage:failed finish:failed", running: "markStage:failed finish:failed", pausing: "markStage:failed finish:failed", paused: "markStage:failed", cancelling: "markStage:failed finish:cancelled" },
};

describe("reactToFlowRun: every Prefect state with every driven run status", () => {
  for (const [state, row] of Object.entries(table)) {
    for (const [runStatus, expected] of Object.entries(row)) {
      it(`${state} while the run is ${runStatus}: ${expected}`, () => {
        expect(react({ state: state as FlowRunFacts["state"], runStatus: runStatus as RunStatus })).toBe(expected);
      });
    }
  }

  it("does nothing for a flow run without a state yet", () => {
    expect(reactToFlowRun(facts({ state: null }))).toEqual([]);
  });
});

describe("reactToFlowRun: what an operator did in the Prefect UI", () => {
  it("reports a Resume pressed in Prefect like the gateway's own, and then suspends nothing", () => {
    const effects = reactToFlowRun(facts({ state: "RUNNING", stageStatus: "paused", runStatus: "pausing" }));
    expect(effects).toEqual([
      { type: "markStage", status: "running" },
      { type: "releaseHold" },
      { type: "setRun", from: ["pausing"], status: "running", event: "run.resumed", data: { by: "prefect" } },
    ]);
  });

  it("says who paused: Prefect when the run was running, the gateway when it was pausing", () => {
    expect(reactToFlowRun(facts({ state: "PAUSED", runStatus: "running" }))[1]).toMatchObject({ event: "run.paused", data: { by: "prefect", stageId: "structure" } });
    expect(reactToFlowRun(facts({ state: "PAUSED", runStatus: "pausing", stageStatus: "paused" }))).toEqual([{ type: "setRun", from: ["pausing"], status: "paused", event: "run.paused", data: { by: "gateway", stageId: "structure" } }]);
  });

  it("resumes a flow run that suspended itself for a hold a resume had already released, instead of pausing the run", () => {
    expect(react({ state: "PAUSED", runStatus: "running", pausedByHold: true })).toBe("releaseHold resumeFlowRun");
    expect(react({ state: "PAUSED", runStatus: "pausing", pausedByHold: true })).toBe("markStage:paused setRun:paused"); // the pause stands
    expect(react({ state: "PAUSED", runStatus: "running", pausedByHold: false })).toBe("markStage:paused setRun:paused"); // an operator's Suspend
  });

  it("waits for the step in flight of a suspended flow run before the run is paused", () => {
    expect(react({ state: "PAUSED", runStatus: "pausing", stageStatus: "paused", stepInFlight: true })).toBe("-");
  });

  it("tells a cancel from Prefect's UI from the gateway's own, also when its Cancelling was seen first (the UI's cancel takes the worker a few seconds)", () => {
    const byPrefect = { type: "finish", status: "cancelled", by: "prefect", reason: CANCELLED_IN_PREFECT };
    expect(reactToFlowRun(facts({ state: "CANCELLED", runStatus: "running" })).at(-1)).toEqual(byPrefect);
    expect(reactToFlowRun(facts({ state: "CANCELLED", runStatus: "cancelling" })).at(-1)).toEqual({ type: "finish", status: "cancelled", by: "gateway" });
    // Cancelling seen on a running run: only Prefect's cancel does that; the run keeps it as its reason.
    expect(reactToFlowRun(facts({ state: "CANCELLING", runStatus: "running" })).at(-1)).toEqual({ type: "setRun", from: ["running"], status: "cancelling", event: "run.cancelling", data: { by: "prefect", from: "running" }, reason: CANCELLED_IN_PREFECT });
    expect(reactToFlowRun(facts({ state: "CANCELLED", runStatus: "cancelling", cancelledInPrefect: true })).at(-1)).toEqual(byPrefect);
    // The flow run of a cancel made in Prefect may end Crashed or Failed instead (its process died first).
    for (const state of ["CRASHED", "FAILED"] as const) {
      expect(reactToFlowRun(facts({ state, runStatus: "cancelling", cancelledInPrefect: true })).at(-1)).toEqual(byPrefect);
      expect(reactToFlowRun(facts({ state, runStatus: "cancelling" })).at(-1)).toEqual({ type: "finish", status: "cancelled", by: "gateway" });
    }
  });
});

describe("reactToFlowRun: a running stage", () => {
  it("records when the flow run started running", () => {
    expect(reactToFlowRun(facts({ stageStatus: "scheduled" }))).toEqual([{ type: "markStage", status: "running", started: true }]);
    expect(react({ state: "PENDING", stageStatus: "scheduled" })).toBe("-");
  });

  it("does nothing more once the flow run's process is found gone (it is Crashed now; the next pass handles it)", () => {
    expect(react({ processGone: true, stepsDone: true })).toBe("-");
    expect(react({ processGone: true, runStatus: "pausing" })).toBe("-");
    expect(react({ processGone: true, runStatus: "cancelling" })).toBe("-"); // Crashed now: the next pass ends the run cancelled
  });

  it("completes the stage when its steps are done, before Prefect records the flow run's end", () => {
    expect(reactToFlowRun(facts({ stepsDone: true }))).toEqual([{ type: "completeStage", endedAt: "now" }]);
    expect(react({ stepsDone: true, runStatus: "pausing" })).toBe("completeStage");
  });

  it("waits for Prefect at the book's last stage; a cancelling run's flow run still Running is cancelled again, not finished", () => {
    expect(react({ stepsDone: true, lastStage: true })).toBe("-");
    expect(react({ stepsDone: true, runStatus: "cancelling" })).toBe("announceCancel cancelFlowRun");
  });
});

describe("reactToFlowRun: a flow run that ended without its stage's outputs", () => {
  it("fails the run, naming the missing steps, when the flow run was marked Completed by hand", () => {
    const effects = reactToFlowRun(facts({ state: "COMPLETED", stepsMissing: ["S6", "S7"] }));
    expect(effects[0]).toEqual({ type: "markStage", status: "failed", ended: true });
    expect(effects[1]).toMatchObject({ type: "finish", status: "failed", reason: expect.stringContaining("steps S6, S7 have no output") });
    expect(react({ state: "COMPLETED", stepsMissing: ["S6"], runStatus: "cancelling" })).toBe("completeStage");
  });

  it("fails it the same way when its process failed it after the Completed by hand", () => {
    expect(reactToFlowRun(facts({ state: "FAILED", markedCompleted: true, stepsMissing: ["S6"] })).at(-1)).toMatchObject({ reason: expect.stringContaining("marked Completed in Prefect") });
  });

  it("starts a crashed stage again up to crashRetries attempts, then fails the run with Prefect's message", () => {
    expect(react({ state: "CRASHED", attemptsSinceCommand: 3, crashRetries: 3 })).toBe("tidyCrashed markStage:failed startStageAgain");
    const effects = reactToFlowRun(facts({ state: "CRASHED", attemptsSinceCommand: 4, crashRetries: 3, message: "killed" }));
    expect(effects.at(-1)).toEqual({ type: "finish", status: "failed", reason: "stage structure crashed in Prefect: killed" });
  });

  it("does not start a failed stage again: a failure is not a lost process", () => {
    expect(reactToFlowRun(facts({ state: "FAILED", message: "boom" })).at(-1)).toEqual({ type: "finish", status: "failed", reason: "stage structure failed in Prefect: boom" });
  });

  it("pauses, with a reason, a book whose flow run crashed while it was pausing", () => {
    expect(reactToFlowRun(facts({ state: "CRASHED", runStatus: "pausing" })).at(-1)).toMatchObject({ type: "setRun", from: ["pausing"], status: "paused", data: { reason: expect.stringContaining("resume runs the stage again") } });
  });
});

describe("decideAfterStage", () => {
  const after = (over: Partial<Parameters<typeof decideAfterStage>[0]> = {}) => decideAfterStage({ runStatus: "running", mode: "auto", stageId: "structure", next: "title", ...over });

  it("finishes the book after its last stage, whatever was asked meanwhile", () => {
    for (const runStatus of ["running", "pausing", "paused", "cancelling"] as const) expect(after({ runStatus, next: null })).toEqual({ type: "finish", status: "completed" });
  });

  it("checks the next stage's guard and starts it in auto mode", () => {
    expect(after()).toEqual({ type: "checkGuardThenStart", stageId: "title" });
  });

  it("holds at the boundary in manual mode and when a pause waits for it, naming the next stage", () => {
    expect(after({ mode: "manual" })).toEqual({ type: "hold", reason: "manual mode: structure is done; POST .../advance starts title", nextStage: "title" });
    expect(after({ runStatus: "pausing" })).toEqual({ type: "hold", reason: "paused after structure", nextStage: "title" });
  });

  it("leaves a paused run where it is, and ends a cancelling one", () => {
    expect(after({ runStatus: "paused", mode: "manual" })).toEqual({ type: "wait" });
    expect(after({ runStatus: "cancelling" })).toEqual({ type: "finish", status: "cancelled", by: "gateway" });
  });
});
