import type { PrefectStateType } from "../prefect/prefectRuns.js";
import type { RunMode, RunStatus, StageRunStatus } from "../store/records.js";
import { stepsRunStatuses } from "./runStateMachine.js";

/**
 * Everything the driver's reaction to a stage's flow run needs, gathered by the caller (runAdvancer.ts).
 * A fact that does not bear on the flow run's state is left false / empty.
 */
/** The run's reason while it cancels because of a cancel made in Prefect (its UI or API), not the gateway's. */
export const CANCELLED_IN_PREFECT = "cancelled in Prefect (its UI or API)";

export interface FlowRunFacts {
  runStatus: RunStatus;
  /** A cancelling run: the cancel was made in Prefect (the run's reason says so), not through the gateway. */
  cancelledInPrefect?: boolean;
  stageId: string;
  stageStatus: StageRunStatus;
  state: PrefectStateType | null;
  /** Prefect's message on the flow run (why it failed or crashed). */
  message: string | null;
  /** The book's last stage: its end is the book's end, and waits for Prefect to record it. */
  lastStage: boolean;
  /** Scheduled, Pending or Running: no process runs the flow run or is coming for it (now marked Crashed). */
  processGone: boolean;
  /** Running: every step of the stage has its accepted output. */
  stepsDone: boolean;
  /** Paused: a task of the suspended flow run is still being finished by its process. */
  stepInFlight: boolean;
  /** Paused by the book's hold flag (the flow suspends itself with its key), not by an operator in Prefect. */
  pausedByHold: boolean;
  /** Failed or Crashed: Prefect's history of the flow run shows Completed (set by hand before its process failed it). */
  markedCompleted: boolean;
  /** Completed, or marked so: the stage's steps without an accepted output. */
  stepsMissing: string[];
  /** Crashed: the stage's starts since a client last moved the run on (attemptsSinceCommand.ts), and how many crashes are run again. */
  attemptsSinceCommand: number;
  crashRetries: number;
}

/** Side effects the run advancer carries out, in order. */
export type FlowRunEffect =
  /** The stage attempt's status; `started`: its start from the flow run's; `ended`: its end from the flow run's (or now). */
  | { type: "markStage"; status: StageRunStatus; started?: true; ended?: true }
  | { type: "releaseHold" }
  /** The run's status, only if it is still in `from`, with the event if given. */
  | { type: "setRun"; from: RunStatus[]; status: RunStatus; event?: "run.resumed" | "run.paused" | "run.cancelling"; data?: Record<string, unknown>; reason?: string }
  | { type: "suspendFlowRun" } // with the pause key of the book's hold, if the hold is still there
  | { type: "announceCancel" } // agent workers abort the book's provider calls
  | { type: "cancelFlowRun" } // a cancel cut short before it reached Prefect, asked again
  | { type: "resumeFlowRun" } // its process if it still runs, else Prefect's resume (flowRunResume.ts)
  | { type: "tidyCrashed" } // the crashed flow run's cut-off task runs are marked Crashed
  | { type: "completeStage"; endedAt: "now" | "flowRun" } // then what follows the stage (decideAfterStage)
  | { type: "startStageAgain" } // a new attempt on a new flow run; accepted outputs are reused
  | { type: "finish"; status: "completed" | "failed" | "cancelled"; reason?: string; by?: "gateway" | "prefect" };

/**
 * How the driver answers the state of the current stage's flow run in Prefect: `reactToFlowRun(facts)`
 * gives the effects, in order. Pure: no I/O, no clock. Prefect is where operators act too (Suspend,
 * Resume, Cancel in its UI, a state set by hand), so every state may come with any run status.
 */
export function reactToFlowRun(f: FlowRunFacts): FlowRunEffect[] {
  switch (f.state) {
    case "SCHEDULED":
    case "PENDING":
    case "RUNNING":
      return live(f);
    case "PAUSED": {
      if (f.runStatus === "cancelling") return cancelAgain();
      // The flow read the hold flag just before a resume released it, and suspended itself after: the
      // resume came last, so it stands (an operator's Suspend in Prefect is not a hold's, and pauses the run).
      // A running run's hold is stale (a command cut short before it released it): it goes too.
      if (f.runStatus === "running" && f.pausedByHold) return [{ type: "releaseHold" }, { type: "resumeFlowRun" }];
      const effects: FlowRunEffect[] = f.stageStatus === "paused" ? [] : [{ type: "markStage", status: "paused" }];
      // A step already in flight finishes first: the run is paused once no task of the flow runs.
      if ((f.runStatus === "running" || f.runStatus === "pausing") && !f.stepInFlight) {
        effects.push({ type: "setRun", from: [f.runStatus], status: "paused", event: "run.paused", data: { by: f.runStatus === "running" ? "prefect" : "gateway", stageId: f.stageId } });
      }
      return effects;
    }
    case "CANCELLING":
      if (f.runStatus !== "running" && f.runStatus !== "pausing" && f.runStatus !== "paused") return [];
      // Not the gateway's cancel (that makes the run cancelling first): an operator's, in Prefect.
      return [{ type: "announceCancel" }, { type: "setRun", from: [f.runStatus], status: "cancelling", event: "run.cancelling", data: { by: "prefect", from: f.runStatus }, reason: CANCELLED_IN_PREFECT }];
    case "COMPLETED":
      if (f.runStatus !== "cancelling" && f.stepsMissing.length) return markedCompletedWithoutOutputs(f);
      return [{ type: "completeStage", endedAt: "flowRun" }];
    case "CANCELLED":
      return [
        ...(f.runStatus !== "cancelling" ? [{ type: "announceCancel" } as const] : []),
        { type: "markStage", status: "cancelled", ended: true },
        { type: "releaseHold" },
        cancelledBy(f),
      ];
    case "CRASHED":
    case "FAILED":
      return failed(f);
    default:
      return [];
  }
}

/** A cancelled run's end: by the gateway's cancel, or by one made in Prefect (before the run knew, or after). */
function cancelledBy(f: FlowRunFacts): FlowRunEffect {
  if (f.runStatus === "cancelling" && !f.cancelledInPrefect) return { type: "finish", status: "cancelled", by: "gateway" };
  return { type: "finish", status: "cancelled", by: "prefect", reason: CANCELLED_IN_PREFECT };
}

/** Scheduled, Pending or Running: follow what an operator did, and act on a dead process or finished steps. */
function live(f: FlowRunFacts): FlowRunEffect[] {
  const effects: FlowRunEffect[] = [];
  let runStatus = f.runStatus;
  if (f.stageStatus === "paused") {
    // Resumed in the Prefect UI (the gateway's own resume changes the status first).
    effects.push({ type: "markStage", status: "running" });
    if (runStatus === "paused" || runStatus === "pausing") {
      effects.push({ type: "releaseHold" }, { type: "setRun", from: [runStatus], status: "running", event: "run.resumed", data: { by: "prefect" } });
      runStatus = "running";
    }
  }
  if (f.state === "RUNNING" && f.stageStatus === "scheduled") effects.push({ type: "markStage", status: "running", started: true });
  if (f.processGone) return effects; // now Crashed in Prefect: the next pass handles the crash
  if (runStatus === "cancelling") return [...effects, ...cancelAgain()];
  if (f.state !== "RUNNING") return effects;
  // Its last step's output is in while Prefect still records the task's and the flow run's end: the next
  // stage can start now. Not the book's last stage (run.completed means every flow run has finished in
  // Prefect), and not while a cancel is under way (that waits for Prefect).
  if (f.stepsDone && !f.lastStage && stepsRunStatuses.includes(runStatus)) return [...effects, { type: "completeStage", endedAt: "now" }];
  if (runStatus === "pausing") effects.push({ type: "suspendFlowRun" });
  return effects;
}

/**
 * A cancelling run whose flow run is not Cancelling: the gateway's cancel was cut short after the run's
 * status was written (Redis or Prefect went away, or the gateway died), so ask again, or the run would
 * stay cancelling for as long as the flow run waits (a paused one: for weeks).
 */
function cancelAgain(): FlowRunEffect[] {
  return [{ type: "announceCancel" }, { type: "cancelFlowRun" }];
}

function failed(f: FlowRunFacts): FlowRunEffect[] {
  const effects: FlowRunEffect[] = f.state === "CRASHED" ? [{ type: "tidyCrashed" }] : [];
  // Marked Completed by hand, then failed by its flow process, still going, before a poll saw the Completed.
  if (f.markedCompleted && f.runStatus !== "cancelling" && f.stepsMissing.length) return [...effects, ...markedCompletedWithoutOutputs(f)];
  effects.push({ type: "markStage", status: "failed", ended: true });
  if (f.runStatus === "cancelling") return [...effects, cancelledBy(f)];
  // A paused book stays paused whatever ended its flow run meanwhile (a crash; Prefect failing a Suspend left
  // past its timeout, 300 s by default in its UI; a flow run deleted there): a resume runs the stage again.
  if (f.runStatus === "paused") return effects;
  if (f.state === "CRASHED" && f.runStatus === "pausing") {
    // The book was to stop at this step boundary anyway: it is paused, and a resume runs the stage again.
    const reason = `${f.stageId}'s flow run crashed while pausing; resume runs the stage again, reusing its outputs`;
    return [...effects, { type: "setRun", from: ["pausing"], status: "paused", event: "run.paused", data: { by: "gateway", stageId: f.stageId, reason } }];
  }
  if (f.state === "CRASHED" && f.attemptsSinceCommand <= f.crashRetries && f.runStatus === "running") {
    // The flow's process died (e.g. its worker was killed): run the stage again; accepted outputs are reused.
    return [...effects, { type: "startStageAgain" }];
  }
  return [...effects, { type: "finish", status: "failed", reason: `stage ${f.stageId} ${f.state?.toLowerCase()} in Prefect: ${f.message ?? "no message"}` }];
}

/** A flow run marked Completed (by hand in the Prefect UI, say) while steps have no output is no finished stage. */
function markedCompletedWithoutOutputs(f: FlowRunFacts): FlowRunEffect[] {
  const reason = `stage ${f.stageId}: its flow run was marked Completed in Prefect, but steps ${f.stepsMissing.join(", ")} have no output (marked Completed by hand?); resume runs them`;
  return [{ type: "markStage", status: "failed", ended: true }, { type: "finish", status: "failed", reason }];
}

/** What follows a completed stage: the book's end, a hold at the boundary, or the next stage. */
export type AfterStage =
  | { type: "finish"; status: "completed" | "cancelled"; by?: "gateway" }
  | { type: "wait" } // paused: a resume or advance goes on
  | { type: "hold"; reason: string; nextStage: string } // the run is paused at the boundary
  | { type: "checkGuardThenStart"; stageId: string };

/** `next`: the stage after the completed one among the run's chosen stages, null at the end. Pure. */
export function decideAfterStage(f: { runStatus: RunStatus; mode: RunMode; stageId: string; next: string | null }): AfterStage {
  if (!f.next) return { type: "finish", status: "completed" };
  if (f.runStatus === "paused") return { type: "wait" };
  if (f.runStatus === "cancelling") return { type: "finish", status: "cancelled", by: "gateway" };
  if (f.mode === "manual") return { type: "hold", reason: `manual mode: ${f.stageId} is done; POST .../advance starts ${f.next}`, nextStage: f.next };
  if (f.runStatus === "pausing") return { type: "hold", reason: `paused after ${f.stageId}`, nextStage: f.next };
  return { type: "checkGuardThenStart", stageId: f.next };
}
