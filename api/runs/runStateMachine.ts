import type { GuardVerdict } from "./guards.js";
import type { RunMode, RunStatus, StageRunStatus } from "../store/records.js";

/** What a client can ask of a run. */
export type RunCommand =
  | { type: "pause" }
  | { type: "resume" }
  | { type: "cancel" }
  | { type: "advance" }
  | { type: "rollback"; toStage: string };

/** Everything the decision needs to know about a run, gathered by the caller. */
export interface RunFacts {
  status: RunStatus;
  mode: RunMode;
  /** The latest stage run, if any stage has started. */
  currentStage: { stageId: string; attempt: number; status: StageRunStatus } | null;
  /** True when a flow run for the current stage is live in Prefect (not finished). */
  flowRunActive: boolean;
  /** The current stage's flow run has ended Completed, though the driver has not recorded the stage's end yet. */
  flowRunCompleted?: boolean;
  /** The stage after the current one, and whether its guard passes now; null at the end. */
  next: { stageId: string; guard: GuardVerdict } | null;
  /** The run's chosen stages (graph order) and the ones that have started at least once. */
  chosenStages: string[];
  startedStages: string[];
}

/** Side effects the adapters carry out, in order. */
export type RunEffect =
  | { type: "holdFlow" } // tell the stage's flow to suspend at its next step boundary
  | { type: "releaseHold" }
  | { type: "suspendFlowRun" }
  | { type: "resumeFlowRun" }
  | { type: "cancelFlowRun" }
  | { type: "dismissStandby" } // the book's waiting flow run ends: a paused or finished book holds no process
  | { type: "startStage"; stageId: string }; // its next attempt is recorded with the status (runControl.ts); its steps reuse accepted outputs, which a rollback supersedes first (rollBackTo)

/** The event that reports the command; written with the new status, in one transaction. */
export type RunCommandEvent = "run.pausing" | "run.paused" | "run.resumed" | "run.cancelling" | "run.cancelled" | "run.rolled_back";

export type Decision =
  | {
      ok: true;
      status: RunStatus;
      event?: RunCommandEvent;
      /** Also written with the status: the outputs of this stage and later ones superseded, and the stage's next attempt recorded. */
      rollBackTo?: string;
      /** Also written with the status: the run's unfinished stage runs end so (no flow run will report their end). */
      endStageRuns?: "cancelled";
      /** Carried out in order once the status is written. */
      effects: RunEffect[];
    }
  | { ok: false; reason: string };

const refuse = (reason: string): Decision => ({ ok: false, reason });

/** A run is at a stage boundary when its current stage has completed and the next has not started. */
const atBoundary = (f: RunFacts) => f.currentStage?.status === "completed";

/**
 * The run state machine: `decide(facts, command)` says whether the command is allowed now and, if so,
 * the run's new status and the effects to carry out. Pure: no I/O, no clock. A refused command changes
 * nothing; the caller answers 409 with `reason`.
 *
 * queued → running ⇄ paused → completed | failed | cancelled, with pausing and cancelling while a request
 * waits for a step boundary or for Prefect.
 */
export function decide(f: RunFacts, command: RunCommand): Decision {
  switch (command.type) {
    case "pause":
      switch (f.status) {
        case "queued":
          return { ok: true, status: "paused", event: "run.paused", effects: [{ type: "dismissStandby" }] };
        case "running":
          if (!f.flowRunActive) return { ok: true, status: "paused", event: "run.paused", effects: [{ type: "dismissStandby" }] };
          return { ok: true, status: "pausing", event: "run.pausing", effects: [{ type: "holdFlow" }, { type: "suspendFlowRun" }] };
        default:
          return refuse(`cannot pause a run that is ${f.status}`);
      }

    case "resume":
      switch (f.status) {
        case "paused":
        case "pausing":
          if (f.flowRunActive) {
            return { ok: true, status: "running", event: "run.resumed", effects: [{ type: "releaseHold" }, { type: "resumeFlowRun" }] };
          }
          if (!f.currentStage) return { ok: true, status: "queued", event: "run.resumed", effects: [] };
          if (atBoundary(f)) return goOn(f, "run.resumed");
          // Its flow run finished the stage just before the pause: the driver records the stage's end and goes on.
          if (f.flowRunCompleted) return { ok: true, status: "running", event: "run.resumed", effects: [{ type: "releaseHold" }] };
          // The stage's flow run ended while paused (e.g. cancelled in Prefect): start the stage again.
          return { ok: true, status: "running", event: "run.resumed", effects: [{ type: "releaseHold" }, { type: "startStage", stageId: f.currentStage.stageId }] };
        case "failed":
          if (!f.currentStage) return refuse("the run failed before any stage started; submit it again");
          // Failed at a boundary: the next stage's guard refused (auto mode). Going on needs it to pass now.
          if (atBoundary(f)) {
            // Its last stage completed (an import of a run exported just then): the driver completes it.
            if (!f.next) return { ok: true, status: "running", event: "run.resumed", effects: [] };
            return goOn(f, "run.resumed", `; roll back to ${f.currentStage.stageId} to run it again`);
          }
          return { ok: true, status: "running", event: "run.resumed", effects: [{ type: "startStage", stageId: f.currentStage.stageId }] };
        default:
          return refuse(`cannot resume a run that is ${f.status}`);
      }

    case "cancel":
      switch (f.status) {
        case "completed":
        case "cancelled":
        case "cancelling":
          return refuse(`cannot cancel a run that is ${f.status}`);
        default:
          if (f.flowRunActive) return { ok: true, status: "cancelling", event: "run.cancelling", effects: [{ type: "releaseHold" }, { type: "cancelFlowRun" }] };
          return { ok: true, status: "cancelled", event: "run.cancelled", endStageRuns: "cancelled", effects: [{ type: "releaseHold" }, { type: "dismissStandby" }] };
      }

    case "advance":
      if (f.status !== "paused" || !atBoundary(f)) {
        return refuse(`advance needs a run paused between two stages; this one is ${f.status}${f.currentStage ? ` in ${f.currentStage.stageId} (${f.currentStage.status})` : ""}`);
      }
      return goOn(f, "run.resumed");

    case "rollback": {
      if (!f.chosenStages.includes(command.toStage)) return refuse(`stage ${command.toStage} is not part of this run`);
      if (!f.startedStages.includes(command.toStage)) return refuse(`stage ${command.toStage} has not run yet; nothing to roll back to`);
      // A stage that ran before a rollback to an earlier one is after the current stage: going there would
      // skip the stages in between, whose outputs that rollback superseded.
      const current = f.currentStage ? f.chosenStages.indexOf(f.currentStage.stageId) : -1;
      if (f.chosenStages.indexOf(command.toStage) > current) {
        return refuse(`stage ${command.toStage} comes after the current stage ${f.currentStage?.stageId}; a rollback goes back to the current stage or an earlier one`);
      }
      if (!["paused", "completed", "failed"].includes(f.status)) {
        return refuse(`cannot roll back a run that is ${f.status}${f.status === "running" ? "; pause it first" : ""}`);
      }
      // The status, the superseded outputs and the stage's new attempt are one write: a crash after it leaves
      // a run the driver takes on from the new attempt, never the old stage run.
      return {
        ok: true,
        status: "running",
        event: "run.rolled_back",
        rollBackTo: command.toStage,
        effects: [
          { type: "releaseHold" },
          // A stage paused mid-way still has its flow run Suspended in Prefect: it ends, not left waiting.
          ...(f.flowRunActive ? [{ type: "cancelFlowRun" } as const] : []),
          { type: "startStage", stageId: command.toStage },
        ],
      };
    }
    default:
      return assertNever(command);
  }
}

/** From a stage boundary: start the next stage if its guard passes, or finish when there is none. */
function goOn(f: RunFacts, event: "run.resumed", whatToDo = ""): Decision {
  if (!f.next) return refuse("there is no next stage; the run is about to complete");
  if (!f.next.guard.ok) return refuse(`cannot start ${f.next.stageId}: ${f.next.guard.reason}${whatToDo}`);
  return { ok: true, status: "running", event, effects: [{ type: "releaseHold" }, { type: "startStage", stageId: f.next.stageId }] };
}

function assertNever(x: never): never {
  throw new Error(`unhandled command ${JSON.stringify(x)}`);
}

/** Statuses in which the run driver has work to do. */
export const drivenStatuses: RunStatus[] = ["queued", "running", "pausing", "paused", "cancelling"];
/** Statuses in which the current stage's steps go on running (a pause takes effect at the next boundary). */
export const stepsRunStatuses: RunStatus[] = ["running", "pausing"];
