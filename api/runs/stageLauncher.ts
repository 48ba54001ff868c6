import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import type { PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { withSpan } from "../tracing.js";
import { emitRunEvent } from "./runEvents.js";
import { planStage, type ProviderDefaults } from "./stagePlan.js";

/**
 * Starts a stage: records the stage run (the next attempt of that stage), then creates its flow run of
 * the run-stage deployment and appends `stage.started`. The flow run's idempotency key is the stage attempt, so a repeat after a
 * crash between the two writes finds the same flow run instead of starting a second one.
 */
export class StageLauncher {
  constructor(private readonly deps: { store: Store; prefect: PrefectRuns; graph: StageGraph; providerDefaults: ProviderDefaults; log: Logger }) {}

  start(run: RunRecord, stageId: string): Promise<StageRunRecord> {
    return withSpan(`stage ${stageId}`, { "quire.run_id": run.id, "quire.stage_id": stageId }, () => this.startStage(run, stageId));
  }

  private async startStage(run: RunRecord, stageId: string): Promise<StageRunRecord> {
    const { store } = this.deps;
    const previous = (await store.listStageRuns(run.id)).filter((s) => s.stageId === stageId);
    const attempt = Math.max(0, ...previous.map((s) => s.attempt)) + 1;
    const plan = planStage(this.deps.graph, run.request, stageId, this.deps.providerDefaults);
    const stage = await store.insertStageRun({ runId: run.id, stageId, attempt, plannedSteps: plan.steps.length });
    await this.createFlowRun(run, stage);
    return stage;
  }

  /** Creates the stage's flow run and announces the stage (before any of its steps can run). */
  async createFlowRun(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const flowRunId = await this.createFlowRunOnly(run, stage);
    await emitRunEvent(this.deps.store, this.deps.graph, run, "stage.started", { stageId: stage.stageId, status: "scheduled", data: { attempt: stage.attempt, flowRunId } });
  }

  private async createFlowRunOnly(run: RunRecord, stage: StageRunRecord): Promise<string> {
    const plan = planStage(this.deps.graph, run.request, stage.stageId, this.deps.providerDefaults);
    const flowRun = await this.deps.prefect.createFlowRun({
      name: `${run.id.slice(0, 8)}-${stage.stageId}-a${stage.attempt}`,
      parameters: { runId: run.id, stageId: stage.stageId, attempt: stage.attempt, steps: plan.steps, ...(plan.loop ? { loop: plan.loop } : {}) },
      tags: [`book:${run.id}`, `stage:${stage.stageId}`, ...(run.category ? [`category:${run.category}`] : [])],
      idempotencyKey: `${run.id}:${stage.stageId}:${stage.attempt}`,
    });
    await this.deps.store.updateStageRun({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, { flowRunId: flowRun.id });
    this.deps.log.info({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt, flowRunId: flowRun.id }, "stage flow run created");
    return flowRun.id;
  }
}
