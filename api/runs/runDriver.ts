import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { evaluateGuard, nextStage } from "./guards.js";
import { percentComplete, plannedStepIds } from "./progress.js";
import { planStage, type ProviderDefaults } from "./stagePlan.js";

export interface RunDriverDeps {
  store: Store;
  prefect: PrefectRuns;
  graph: StageGraph;
  providerDefaults: ProviderDefaults;
  log: Logger;
  pollMs: number;
}

const activeStatuses: RunRecord["status"][] = ["queued", "running"];

/**
 * Drives every active run: starts each stage as one flow run of the run-stage deployment, follows it by
 * polling Prefect, checks the next stage's guard and goes on. All its state is in the store and in
 * Prefect, so a restarted gateway picks up where the last one stopped; flow runs are created with an
 * idempotency key per stage attempt, so none is started twice.
 */
export class RunDriver {
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(private readonly deps: RunDriverDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.deps.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass over the active runs; a pass never overlaps the previous one. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const runs = await this.deps.store.listRuns({ statuses: activeStatuses, limit: 1000 });
      for (const run of runs) {
        try {
          await this.advance(run);
        } catch (err) {
          this.deps.log.warn({ runId: run.id, err: (err as Error).message }, "run driver could not advance run; will retry");
        }
      }
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, "run driver pass failed");
    } finally {
      this.ticking = false;
    }
  }

  private async advance(run: RunRecord): Promise<void> {
    const stageRuns = await this.deps.store.listStageRuns(run.id);
    const current = stageRuns.at(-1);
    if (!current) {
      const first = nextStage(this.deps.graph, run.request.stages, null);
      if (first) await this.startStage(run, first.id, 1);
      return;
    }
    if (!current.flowRunId) {
      // The gateway stopped between recording the stage and creating its flow run: create it now (idempotent).
      await this.createFlowRun(run, current);
      return;
    }
    const flowRun = await this.deps.prefect.readFlowRun(current.flowRunId);
    await this.follow(run, current, flowRun);
  }

  private async follow(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<void> {
    const { store } = this.deps;
    const key = { runId: run.id, stageId: stage.stageId, attempt: stage.attempt };
    switch (flowRun.stateType) {
      case "RUNNING":
        if (stage.status === "scheduled") {
          await store.updateStageRun(key, { status: "running", startedAt: flowRun.startTime ?? new Date().toISOString() });
          await this.event(run, "stage.started", { stageId: stage.stageId, status: "running", data: { attempt: stage.attempt, flowRunId: flowRun.id } });
        }
        return;
      case "COMPLETED":
        return this.completeStage(run, stage, flowRun);
      case "FAILED":
      case "CRASHED":
        await store.updateStageRun(key, { status: "failed", endedAt: flowRun.endTime ?? new Date().toISOString() });
        return this.finishRun(run, "failed", `stage ${stage.stageId} ${flowRun.stateType.toLowerCase()} in Prefect: ${flowRun.message ?? "no message"}`);
      case "CANCELLED":
        await store.updateStageRun(key, { status: "cancelled", endedAt: flowRun.endTime ?? new Date().toISOString() });
        return this.finishRun(run, "cancelled", `stage ${stage.stageId} was cancelled in Prefect`);
      default:
        return; // SCHEDULED, PENDING, PAUSED, CANCELLING: nothing to do yet.
    }
  }

  private async completeStage(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<void> {
    const { store, graph } = this.deps;
    if (stage.status !== "completed") {
      if (stage.status === "scheduled") await this.event(run, "stage.started", { stageId: stage.stageId, status: "running", data: { attempt: stage.attempt, flowRunId: flowRun.id } });
      await store.updateStageRun({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, { status: "completed", startedAt: stage.startedAt ?? flowRun.startTime, endedAt: flowRun.endTime ?? new Date().toISOString() });
      await this.event(run, "stage.completed", { stageId: stage.stageId, status: "completed", data: { attempt: stage.attempt, flowRunId: flowRun.id } });
    }
    const next = nextStage(graph, run.request.stages, stage.stageId);
    if (!next) return this.finishRun(run, "completed", null);
    const outputs = await store.latestAcceptedOutputs(run.id, next.guard ? [next.guard.step] : []);
    const verdict = evaluateGuard(next.guard, new Map(outputs.map((o) => [o.stepId, o.content])));
    if (!verdict.ok) return this.finishRun(run, "failed", `cannot start ${next.id}: ${verdict.reason}`);
    await this.startStage(run, next.id, 1);
  }

  private async startStage(run: RunRecord, stageId: string, attempt: number): Promise<void> {
    const { store } = this.deps;
    const plan = planStage(this.deps.graph, run.request, stageId, this.deps.providerDefaults);
    const stage = await store.insertStageRun({ runId: run.id, stageId, attempt, plannedSteps: plan.steps.length });
    const wasQueued = run.status === "queued";
    await store.updateRun(run.id, activeStatuses, { status: "running", currentStageId: stageId });
    if (wasQueued) await this.event(run, "run.started", { status: "running" });
    await this.createFlowRun(run, stage);
  }

  private async createFlowRun(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const plan = planStage(this.deps.graph, run.request, stage.stageId, this.deps.providerDefaults);
    const flowRun = await this.deps.prefect.createFlowRun({
      name: `${run.id.slice(0, 8)}-${stage.stageId}-a${stage.attempt}`,
      parameters: { runId: run.id, stageId: stage.stageId, attempt: stage.attempt, steps: plan.steps, ...(plan.loop ? { loop: plan.loop } : {}) },
      tags: [`book:${run.id}`, `stage:${stage.stageId}`, ...(run.category ? [`category:${run.category}`] : [])],
      idempotencyKey: `${run.id}:${stage.stageId}:${stage.attempt}`,
    });
    await this.deps.store.updateStageRun({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, { flowRunId: flowRun.id });
    this.deps.log.info({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt, flowRunId: flowRun.id }, "stage flow run created");
  }

  private async finishRun(run: RunRecord, status: "completed" | "failed" | "cancelled", error: string | null): Promise<void> {
    const changed = await this.deps.store.updateRun(run.id, activeStatuses, { status, error, completedAt: new Date().toISOString() });
    if (changed) await this.event(run, `run.${status}`, { status, ...(error ? { data: { reason: error } } : {}) });
    this.deps.log.info({ runId: run.id, status, error }, "run finished");
  }

  private async event(run: RunRecord, type: string, fields: { stageId?: string; status?: string; data?: Record<string, unknown> }): Promise<void> {
    const planned = plannedStepIds(this.deps.graph, run.request.stages);
    const accepted = (await this.deps.store.listOutputs(run.id, { history: false })).map((o) => o.stepId);
    await this.deps.store.appendEvent({ runId: run.id, type, percent: percentComplete(planned, accepted), ...fields });
  }
}
