import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, RunStatus, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { evaluateGuard, nextStage } from "./guards.js";
import type { FlowRunLiveness } from "./flowRunLiveness.js";
import type { HoldFlags } from "./holdFlags.js";
import { emitRunEvent, type RunEventFields } from "./runEvents.js";
import { stageStepsDone, stepsWithoutOutput } from "./stageSteps.js";
import { stageStartedAt } from "./stageTimings.js";
import { drivenStatuses, stepsRunStatuses } from "./runStateMachine.js";
import type { StageLauncher } from "./stageLauncher.js";
import type { StandbyFlowRuns } from "./standbyFlowRuns.js";

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
  /** How many times a stage whose flow run crashed (e.g. its worker died) is started again. */
  crashRetries?: number;
  /** A finished book's standby flow run is dismissed (api/runs/standbyFlowRuns.ts). */
  standby?: StandbyFlowRuns;
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
    const flowRun = known.get(stage.flowRunId) ?? (await this.deps.prefect.readFlowRun(stage.flowRunId));
    await this.follow(run, stage, flowRun);
  }

  private async follow(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<void> {
    const { store, holds } = this.deps;
    const key = { runId: run.id, stageId: stage.stageId, attempt: stage.attempt };
    switch (flowRun.stateType) {
      case "SCHEDULED":
      case "PENDING":
      case "RUNNING":
        if (stage.status === "paused") {
          // Resumed in the Prefect UI (the gateway's own resume changes the status first).
          await store.updateStageRun(key, { status: "running" });
          if (run.status === "paused" || run.status === "pausing") {
            await holds.release(run.id);
            await this.transition(run, [run.status], { status: "running" }, "run.resumed", { data: { by: "prefect" } });
          }
        }
        if (flowRun.stateType === "RUNNING" && stage.status === "scheduled") {
          await store.updateStageRun(key, { status: "running", startedAt: stageStartedAt(stage, flowRun.startTime) });
        }
        if (await this.deps.liveness.crashIfDead(flowRun, { runId: run.id, stageId: stage.stageId })) return; // the crash is handled next pass
        if (flowRun.stateType === "RUNNING" && (await this.stepsDoneEarly(run, stage))) {
          // Its last step's output is in; Prefect is still recording the task's and the flow run's end.
          return this.completeStage(run, stage, flowRun, new Date().toISOString());
        }
        if (flowRun.stateType === "RUNNING" && run.status === "pausing") {
          const pauseKey = await holds.pauseKey(run.id);
          if (pauseKey) await this.deps.prefect.suspend(flowRun.id, pauseKey).catch(() => undefined);
        }
        return;
      case "PAUSED": {
        if (stage.status !== "paused") await store.updateStageRun(key, { status: "paused" });
        if (run.status === "running" || run.status === "pausing") {
          // A step already in flight finishes first: the run is paused once no task of the flow runs.
          if (!(await this.deps.liveness.stepInFlight(flowRun, { runId: run.id, stageId: stage.stageId }))) await this.transition(run, [run.status], { status: "paused" }, "run.paused", { data: { by: run.status === "running" ? "prefect" : "gateway", stageId: stage.stageId } });
        }
        return;
      }
      case "CANCELLING":
        if (run.status === "running" || run.status === "pausing" || run.status === "paused") {
          await this.deps.announceCancel(run.id);
          await this.transition(run, [run.status], { status: "cancelling" });
        }
        return;
      case "COMPLETED": {
        if (run.status !== "cancelling" && (await this.failIfStepsMissing(run, stage, flowRun))) return;
        return this.completeStage(run, stage, flowRun, flowRun.endTime ?? new Date().toISOString());
      }
      case "CANCELLED":
        if (run.status !== "cancelling") await this.deps.announceCancel(run.id);
        await store.updateStageRun(key, { status: "cancelled", endedAt: flowRun.endTime ?? new Date().toISOString() });
        await holds.release(run.id);
        await this.finish(run, "cancelled", null, { by: run.status === "cancelling" ? "gateway" : "prefect" });
        return;
      case "CRASHED":
      case "FAILED": {
        if (flowRun.stateType === "CRASHED") await this.deps.liveness.tidyCrashed(flowRun);
        // Marked Completed by hand, then failed by its flow process, still going, before a poll saw the Completed.
        const markedCompleted = run.status !== "cancelling" && (await this.deps.prefect.stateHistory(flowRun.id)).includes("COMPLETED");
        if (markedCompleted && (await this.failIfStepsMissing(run, stage, flowRun))) return;
        await store.updateStageRun(key, { status: "failed", endedAt: flowRun.endTime ?? new Date().toISOString() });
        if (run.status === "cancelling") return this.finish(run, "cancelled", null, { by: "gateway" });
        if (flowRun.stateType === "CRASHED" && (run.status === "pausing" || run.status === "paused")) {
          // The book was to stop at this step boundary anyway: it is paused, and a resume runs the stage again.
          await this.transition(run, ["pausing"], { status: "paused" }, "run.paused", { data: { by: "gateway", stageId: stage.stageId, reason: `${stage.stageId}'s flow run crashed while pausing; resume runs the stage again, reusing its outputs` } });
          return;
        }
        const attempts = (await store.listStageRuns(run.id)).filter((s) => s.stageId === stage.stageId).length;
        if (flowRun.stateType === "CRASHED" && attempts <= (this.deps.crashRetries ?? 3) && run.status === "running") {
          // The flow's process died (e.g. its worker was killed): run the stage again; accepted outputs are reused.
          this.deps.log.warn({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, "stage flow run crashed; starting the stage again");
          await this.deps.standby?.dismiss(run.id).catch(() => undefined); // whatever killed the flow may have killed its standby too
          await this.deps.launcher.start(run, stage.stageId, { fresh: true });
          return;
        }
        await this.finish(run, "failed", `stage ${stage.stageId} ${flowRun.stateType.toLowerCase()} in Prefect: ${flowRun.message ?? "no message"}`);
        return;
      }
      default:
        return;
    }
  }

  /**
   * A flow run marked Completed while some of its stage's steps have no output (by hand in the Prefect UI,
   * say) is not a finished stage: the run fails, saying which; resume runs them. True if it failed the run.
   */
  private async failIfStepsMissing(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<boolean> {
    const steps = this.deps.graph.stages.find((s) => s.id === stage.stageId)?.steps ?? [];
    const missing = stepsWithoutOutput(steps, await this.deps.store.latestAcceptedOutputs(run.id, steps.map((s) => s.id)));
    if (!missing.length) return false;
    await this.deps.store.updateStageRun({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, { status: "failed", endedAt: flowRun.endTime ?? new Date().toISOString() });
    await this.finish(run, "failed", `stage ${stage.stageId}: its flow run was marked Completed in Prefect, but steps ${missing.join(", ")} have no output (marked Completed by hand?); resume runs them`);
    return true;
  }

  private async completeStage(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView, endedAt: string): Promise<void> {
    const key = { runId: run.id, stageId: stage.stageId, attempt: stage.attempt };
    await this.deps.store.updateStageRun(key, { status: "completed", startedAt: stage.startedAt ?? stageStartedAt(stage, flowRun.startTime), endedAt });
    await this.event(run, "stage.completed", { stageId: stage.stageId, status: "completed", data: { attempt: stage.attempt, flowRunId: flowRun.id } });
    return this.afterStage(run, { ...stage, status: "completed" });
  }

  /**
   * A running stage whose steps are all done (stageSteps.ts) need not wait for Prefect to record its flow
   * run's end: the next stage can start now. Not the book's last stage: `run.completed` still means every
   * flow run of the book has finished in Prefect. Not while a cancel is under way: that waits for Prefect.
   */
  private async stepsDoneEarly(run: RunRecord, stage: StageRunRecord): Promise<boolean> {
    const { graph, store } = this.deps;
    if (!stepsRunStatuses.includes(run.status)) return false;
    if (!nextStage(graph, run.request.stages, stage.stageId)) return false;
    const shape = graph.stages.find((s) => s.id === stage.stageId);
    if (!shape) return false;
    return stageStepsDone(shape, await store.latestAcceptedOutputs(run.id, shape.steps.map((s) => s.id)));
  }

  /** The current stage completed: go on to the next (auto mode), or hold at the boundary. */
  private async afterStage(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const { graph, store } = this.deps;
    const next = nextStage(graph, run.request.stages, stage.stageId);
    if (!next) return this.finish(run, "completed", null);
    if (run.status === "paused") return;
    if (run.status === "cancelling") return this.finish(run, "cancelled", null, { by: "gateway" });
    if (run.mode === "manual" || run.status === "pausing") {
      const reason = run.mode === "manual" ? `manual mode: ${stage.stageId} is done; POST .../advance starts ${next.id}` : `paused after ${stage.stageId}`;
      await this.deps.holds.release(run.id);
      await this.transition(run, [run.status], { status: "paused" }, "run.paused", { data: { by: "gateway", reason, nextStage: next.id } });
      return;
    }
    const outputs = await store.latestAcceptedOutputs(run.id, next.guard ? [next.guard.step] : []);
    const verdict = evaluateGuard(next.guard, new Map(outputs.map((o) => [o.stepId, o.content])));
    if (!verdict.ok) return this.finish(run, "failed", `cannot start ${next.id}: ${verdict.reason}`);
    if (await this.transition(run, ["running"], { currentStageId: next.id })) await this.deps.launcher.start(run, next.id);
  }

  private async finish(run: RunRecord, status: "completed" | "failed" | "cancelled", error: string | null, data: Record<string, unknown> = {}): Promise<void> {
    const from = drivenStatuses.filter((s) => s !== status);
    const changed = await this.transition(run, from, { status, error, completedAt: new Date().toISOString() }, `run.${status}`, { data: { ...data, ...(error ? { reason: error } : {}) } });
    if (changed) this.deps.log.info({ runId: run.id, status, error }, "run finished");
    await this.deps.standby?.dismiss(run.id).catch(() => undefined);
  }

  /** Changes the run only if it is still in one of `from`, then appends the event; false if it moved on. */
  private async transition(run: RunRecord, from: RunStatus[], patch: Parameters<Store["updateRun"]>[2], event?: string, fields: RunEventFields = {}): Promise<boolean> {
    const changed = await this.deps.store.updateRun(run.id, from, patch);
    if (changed && event) await this.event({ ...run, ...(patch.status ? { status: patch.status } : {}) }, event, { status: patch.status ?? run.status, ...fields });
    // A paused run holds no process: its standby flow run ends; a resume starts the next stage afresh.
    if (changed && patch.status === "paused") await this.deps.standby?.dismiss(run.id).catch(() => undefined);
    return changed;
  }

  private event(run: RunRecord, type: string, fields: RunEventFields): Promise<void> {
    return emitRunEvent(this.deps.store, this.deps.graph, run, type, fields);
  }
}
