import type { Logger } from "pino";
import { findStage, type StageGraph } from "../config/stageGraph.js";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, RunStatus, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { evaluateGuard, nextStage } from "./guards.js";
import type { FlowRunLiveness } from "./flowRunLiveness.js";
import { isHoldPauseKey, type HoldFlags } from "./holdFlags.js";
import { resumeFlowRun } from "./flowRunResume.js";
import type { FlowLeases } from "./flowLeases.js";
import { updateRunWithEvent, updateStageRunWithEvent, type RunEventFields } from "./runEvents.js";
import { CANCELLED_IN_PREFECT, decideAfterStage, reactToFlowRun, type FlowRunEffect, type FlowRunFacts } from "./flowRunReaction.js";
import { stageStepsDone, stepsWithoutOutput } from "./stageSteps.js";
import { stageStartedAt } from "./stageTimings.js";
import { attemptsSinceCommand } from "./attemptsSinceCommand.js";
import { drivenStatuses } from "./runStateMachine.js";
import type { StageLauncher } from "./stageLauncher.js";
import { isStandbyTag, type StandbyFlowRuns } from "./standbyFlowRuns.js";

export interface RunAdvancerDeps {
  store: Store;
  prefect: PrefectRuns;
  holds: HoldFlags;
  launcher: StageLauncher;
  graph: StageGraph;
  log: Logger;
  /** Finds flow runs whose process is gone (killed with its worker) and marks them Crashed. */
  liveness: FlowRunLiveness;
  /** Tells agent workers to abort provider calls of a run cancelled in the Prefect UI. */
  announceCancel: (runId: string) => Promise<void>;
  /** A finished book's standby flow run is dismissed (api/runs/standbyFlowRuns.ts). */
  standby?: StandbyFlowRuns;
  /** Whether a flow process still runs a flow run (a resume then lets it go on rather than start another). */
  leases?: FlowLeases;
}

/**
 * Moves one run on by what its current stage's flow run shows in Prefect: starts the first stage, follows
 * the flow run's state (reporting what an operator did in the Prefect UI like a command), checks the next
 * stage's guard and starts it, or finishes the run. The run driver (runDriver.ts) calls it once per run
 * and pass; every change it makes is conditional on the run's status, so a repeated call is harmless.
 */
export class RunAdvancer {
  constructor(private readonly deps: RunAdvancerDeps) {}

  /** `known`: flow runs already read this pass, by id; the current stage's is read when missing. */
  async advance(run: RunRecord, known: Map<string, FlowRunView>): Promise<void> {
    const stage = (await this.deps.store.listStageRuns(run.id)).at(-1);
    if (!stage) {
      const first = nextStage(this.deps.graph, run.request.stages, null);
      if (!first) return;
      if (run.status === "queued" && (await this.transition(run, ["queued"], { status: "running", currentStageId: first.id }, "run.started"))) {
        await this.deps.launcher.start({ ...run, status: "running" }, first.id);
      } else if (run.status === "running") {
        // A gateway stopped between run.started and recording the first stage: start it now.
        await this.deps.launcher.start(run, first.id);
      }
      return; // paused or cancelling before any stage: nothing runs
    }
    if (!stage.flowRunId) {
      // The gateway stopped between recording the stage and creating its flow run: create it now (idempotent).
      if (run.status !== "paused") await this.deps.launcher.createFlowRun(run, stage);
      return;
    }
    if (stage.status === "completed") return this.afterStage(run, stage);
    if (stage.status === "failed" && run.status === "paused") return; // its flow run crashed while pausing: resume starts it again
    const flowRun = known.get(stage.flowRunId) ?? (await this.deps.prefect.readFlowRunIfAny(stage.flowRunId)) ?? goneFromPrefect(stage.flowRunId);
    if (flowRun.tags.some(isStandbyTag)) await this.deps.launcher.describeHandedOver(run, stage, flowRun);
    await this.follow(run, stage, flowRun);
  }

  /** Answers the flow run's state: facts gathered here, decided by reactToFlowRun (pure), carried out here. */
  private async follow(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<void> {
    const facts = await this.gather(run, stage, flowRun);
    let current = run;
    for (const effect of reactToFlowRun(facts)) {
      const changed = await this.apply(effect, current, stage, flowRun);
      if (effect.type === "setRun" && changed) current = { ...current, status: effect.status };
    }
  }

  /** The facts the flow run's state calls for; each read only for the states it bears on. */
  private async gather(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<FlowRunFacts> {
    const { graph, store, liveness, prefect } = this.deps;
    const state = flowRun.stateType;
    const context = { runId: run.id, stageId: stage.stageId };
    const steps = findStage(graph, stage.stageId);
    const accepted = () => store.latestAcceptedOutputs(run.id, steps?.steps.map((s) => s.id) ?? []);
    const facts: FlowRunFacts = {
      runStatus: run.status,
      cancelledInPrefect: run.status === "cancelling" && run.error === CANCELLED_IN_PREFECT,
      stageId: stage.stageId,
      stageStatus: stage.status,
      state,
      message: flowRun.message,
      lastStage: !nextStage(graph, run.request.stages, stage.stageId),
      processGone: false,
      stepsDone: false,
      stepInFlight: false,
      pausedByHold: isHoldPauseKey(flowRun.pauseKey),
      markedCompleted: false,
      stepsMissing: [],
      attemptsSinceCommand: 1,
      crashRetries: CRASH_RETRIES,
    };
    if (state === "SCHEDULED" || state === "PENDING" || state === "RUNNING") {
      facts.processGone = await liveness.crashIfDead(flowRun, context);
      if (state === "RUNNING" && !facts.processGone && !facts.lastStage && steps) facts.stepsDone = stageStepsDone(steps, await accepted());
    } else if (state === "PAUSED" && (run.status === "running" || run.status === "pausing")) {
      facts.stepInFlight = await liveness.stepInFlight(flowRun, context);
    } else if (state === "CRASHED" || state === "FAILED") {
      facts.markedCompleted = run.status !== "cancelling" && (await prefect.stateHistory(flowRun.id)).includes("COMPLETED");
      if (state === "CRASHED") facts.attemptsSinceCommand = attemptsSinceCommand(await store.listEvents(run.id), stage.stageId);
    }
    if ((state === "COMPLETED" && run.status !== "cancelling") || facts.markedCompleted) facts.stepsMissing = stepsWithoutOutput(steps?.steps ?? [], await accepted());
    return facts;
  }

  /** Carries out one effect; false when a conditional change found the run moved on. */
  private async apply(effect: FlowRunEffect, run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<boolean> {
    const { store, holds, liveness } = this.deps;
    switch (effect.type) {
      case "markStage": {
        const patch = {
          status: effect.status,
          ...(effect.started ? { startedAt: stageStartedAt(stage, flowRun.startTime) } : {}),
          ...(effect.ended ? { endedAt: flowRun.endTime ?? new Date().toISOString() } : {}),
        };
        // A failed attempt is reported (then comes its next attempt's stage.started, or run.failed).
        const data = { attempt: stage.attempt, flowRunId: flowRun.id, state: flowRun.stateType, ...(flowRun.message ? { reason: flowRun.message } : {}) };
        const event = effect.status === "failed" ? { type: "stage.failed", stageId: stage.stageId, status: "failed", data } : undefined;
        // Once per change; a stage another hand completed meanwhile (its drive lock lapsed) stays completed.
        await updateStageRunWithEvent(store, this.deps.graph, run, stageKey(stage), patch, event, (s) => s.status !== "completed" && s.status !== effect.status);
        return true;
      }
      case "releaseHold":
        await holds.release(run.id);
        return true;
      case "setRun":
        return this.transition(run, effect.from, { status: effect.status, ...(effect.reason ? { error: effect.reason } : {}) }, effect.event, effect.data ? { data: effect.data } : {});
      case "suspendFlowRun": {
        const pauseKey = await holds.pauseKey(run.id);
        if (pauseKey) await this.deps.prefect.suspend(flowRun.id, pauseKey).catch(() => undefined);
        return true;
      }
      case "announceCancel":
        await this.deps.announceCancel(run.id);
        return true;
      case "resumeFlowRun":
        this.deps.log.info({ runId: run.id, stageId: stage.stageId, flowRunId: flowRun.id }, "the flow suspended itself for a pause that a resume had released; resuming it");
        await resumeFlowRun(this.deps, flowRun.id, run.id);
        return true;
      case "cancelFlowRun":
        this.deps.log.warn({ runId: run.id, stageId: stage.stageId, flowRunId: flowRun.id, state: flowRun.stateType }, "a cancel had not reached the flow run; cancelling it now");
        await this.deps.prefect.cancel(flowRun.id);
        return true;
      case "tidyCrashed":
        await liveness.tidyCrashed(flowRun);
        return true;
      case "completeStage":
        await this.completeStage(run, stage, flowRun, effect.endedAt === "now" ? new Date().toISOString() : (flowRun.endTime ?? new Date().toISOString()));
        return true;
      case "startStageAgain":
        this.deps.log.warn({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, "stage flow run crashed; starting the stage again");
        await this.deps.standby?.dismiss(run.id).catch(() => undefined); // whatever killed the flow may have killed its standby too
        await this.deps.launcher.start(run, stage.stageId, { fresh: true });
        return true;
      case "finish":
        return this.finish(run, effect.status, effect.reason ?? null, effect.by ? { by: effect.by } : {});
      default:
        throw new Error(`unhandled flow run effect ${JSON.stringify(effect satisfies never)}`);
    }
  }

  private async completeStage(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView, endedAt: string): Promise<void> {
    const patch = { status: "completed" as const, startedAt: stage.startedAt ?? stageStartedAt(stage, flowRun.startTime), endedAt };
    const event = { type: "stage.completed", stageId: stage.stageId, status: "completed", data: { attempt: stage.attempt, flowRunId: flowRun.id } };
    // Completed by another hand meanwhile (with a lock lost to a Redis outage): it has moved the run on.
    if (!(await updateStageRunWithEvent(this.deps.store, this.deps.graph, run, stageKey(stage), patch, event, (s) => s.status !== "completed"))) return;
    return this.afterStage(run, { ...stage, status: "completed" });
  }

  /** The current stage completed: what follows is decided by decideAfterStage (pure), carried out here. */
  private async afterStage(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const { graph, store } = this.deps;
    const next = nextStage(graph, run.request.stages, stage.stageId);
    const decision = decideAfterStage({ runStatus: run.status, mode: run.mode, stageId: stage.stageId, next: next?.id ?? null });
    switch (decision.type) {
      case "finish":
        await this.finish(run, decision.status, null, decision.by ? { by: decision.by } : {});
        return;
      case "wait":
        return;
      case "hold":
        await this.deps.holds.release(run.id);
        await this.transition(run, [run.status], { status: "paused" }, "run.paused", { data: { by: "gateway", reason: decision.reason, nextStage: decision.nextStage } });
        return;
      case "checkGuardThenStart": {
        const guard = next?.guard;
        const outputs = await store.latestAcceptedOutputs(run.id, guard ? [guard.step] : []);
        const verdict = evaluateGuard(guard, new Map(outputs.map((o) => [o.stepId, o.content])));
        if (!verdict.ok) {
          await this.finish(run, "failed", `cannot start ${decision.stageId}: ${verdict.reason}`);
          return;
        }
        if (await this.transition(run, ["running"], { currentStageId: decision.stageId })) await this.deps.launcher.start(run, decision.stageId);
        return;
      }
      default:
        throw new Error(`unhandled decision after a stage ${JSON.stringify(decision satisfies never)}`);
    }
  }

  private async finish(run: RunRecord, status: "completed" | "failed" | "cancelled", error: string | null, data: Record<string, unknown> = {}): Promise<boolean> {
    const from = drivenStatuses.filter((s) => s !== status);
    // A pause or cancel asked for during the book's last step, which finished first: said, not lost. (The
    // flow may have suspended itself for the pause after that step, and the run been paused meanwhile.)
    const dropped = status !== "completed" ? {} : run.status === "cancelling" ? { dropped: "cancel" } : run.status === "pausing" || run.status === "paused" ? { dropped: "pause" } : {};
    const changed = await this.transition(run, from, { status, error, completedAt: new Date().toISOString() }, `run.${status}`, { data: { ...data, ...dropped, ...(error ? { reason: error } : {}) } });
    if (changed) this.deps.log.info({ runId: run.id, status, error }, "run finished");
    await this.deps.standby?.dismiss(run.id).catch(() => undefined);
    return changed;
  }

  /** Changes the run only if it is still in one of `from`, with its event (one transaction); false if it moved on. */
  private async transition(run: RunRecord, from: RunStatus[], patch: Parameters<Store["updateRun"]>[2], event?: string, fields: RunEventFields = {}): Promise<boolean> {
    const { store, graph } = this.deps;
    const changed = await updateRunWithEvent(store, graph, run, from, patch, event ? { type: event, status: patch.status ?? run.status, ...fields } : undefined);
    // A paused run holds no process: its standby flow run ends; a resume starts the next stage afresh.
    if (changed && patch.status === "paused") await this.deps.standby?.dismiss(run.id).catch(() => undefined);
    return changed;
  }
}

/**
 * A stage's flow run that Prefect no longer has (an operator deleted it in the UI): read as Failed with
 * the reason, so the run fails and a resume starts the stage again, instead of a pass that fails for ever.
 */
function goneFromPrefect(id: string): FlowRunView {
  const message = `its flow run ${id} is no longer in Prefect (deleted there?); resume runs the stage again, reusing its outputs`;
  return { id, name: "", stateType: "FAILED", stateName: "Gone", message, stateTimestamp: null, createdAt: null, startTime: null, endTime: null, tags: [], pauseKey: null, workQueueId: null };
}

/** How many times in a row a stage whose flow run crashed (its worker died, say) is started again. */
const CRASH_RETRIES = 3;
const stageKey = (stage: StageRunRecord) => ({ runId: stage.runId, stageId: stage.stageId, attempt: stage.attempt });
