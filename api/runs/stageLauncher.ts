import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import type { PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { withSpan } from "../tracing.js";
import type { FlowLeases } from "./flowLeases.js";
import { nextStage } from "./guards.js";
import { emitRunEvent } from "./runEvents.js";
import { planStage, type ProviderDefaults } from "./stagePlan.js";
import { isStandbyTag, standbyTags, type StandbyFlowRuns } from "./standbyFlowRuns.js";

export interface StageLauncherDeps {
  store: Store;
  prefect: PrefectRuns;
  graph: StageGraph;
  providerDefaults: ProviderDefaults;
  log: Logger;
  /** When given, each stage of an auto-mode book starts the book's next flow run ahead, as a standby. */
  standby?: StandbyFlowRuns;
  leases?: FlowLeases;
}

/**
 * Starts a stage: records the stage run (the next attempt of that stage), then gives it a flow run of the
 * run-stage deployment and appends `stage.started`. The flow run is the book's standby when it has a
 * live one (already started, so the stage's first step follows at once), else a new one whose
 * idempotency key is the stage attempt, so a repeat after a crash between the writes finds the same
 * flow run instead of starting a second one.
 */
export class StageLauncher {
  constructor(private readonly deps: StageLauncherDeps) {}

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
    await this.prepareStandby(run, stage);
    return stage;
  }

  /** Gives the stage its flow run and announces the stage (before any of its steps can run). */
  async createFlowRun(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const flowRunId = (await this.handToStandby(run, stage)) ?? (await this.createFlowRunOnly(run, stage));
    await this.deps.store.updateStageRun({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt }, { flowRunId });
    this.deps.log.info({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt, flowRunId }, "stage flow run ready");
    await emitRunEvent(this.deps.store, this.deps.graph, run, "stage.started", { stageId: stage.stageId, status: "scheduled", data: { attempt: stage.attempt, flowRunId } });
  }

  private flowRunFor(run: RunRecord, stage: StageRunRecord) {
    const plan = planStage(this.deps.graph, run.request, stage.stageId, this.deps.providerDefaults);
    return {
      name: `${run.id.slice(0, 8)}-${stage.stageId}-a${stage.attempt}`,
      parameters: { runId: run.id, stageId: stage.stageId, attempt: stage.attempt, steps: plan.steps, ...(plan.loop ? { loop: plan.loop } : {}) },
      tags: [`book:${run.id}`, `stage:${stage.stageId}`, ...(run.category ? [`category:${run.category}`] : [])],
    };
  }

  private async createFlowRunOnly(run: RunRecord, stage: StageRunRecord): Promise<string> {
    const flowRun = await this.deps.prefect.createFlowRun({ ...this.flowRunFor(run, stage), idempotencyKey: `${run.id}:${stage.stageId}:${stage.attempt}` });
    return flowRun.id;
  }

  /**
   * The book's standby flow run takes the stage, if it is still alive; then it is renamed, retagged and
   * given the stage's parameters in Prefect, as if it had been created for it. Null: create a new one.
   */
  private async handToStandby(run: RunRecord, stage: StageRunRecord): Promise<string | null> {
    const { standby, prefect, leases, log } = this.deps;
    const flowRunId = await standby?.take(run.id).catch(() => null);
    if (!standby || !flowRunId) return null;
    try {
      const flowRun = await prefect.readFlowRun(flowRunId);
      const waiting = flowRun.stateType === "SCHEDULED" || flowRun.stateType === "PENDING" || flowRun.stateType === "RUNNING";
      if (!waiting || (flowRun.stateType === "RUNNING" && (await leases?.lapsed(flowRunId, flowRun.stateTimestamp)))) return null;
      const target = this.flowRunFor(run, stage);
      const { runId: _runId, ...assignment } = target.parameters;
      if (!(await standby.assign(flowRunId, assignment))) return null; // it gave up waiting just now
      const tags = [...new Set([...target.tags, ...flowRun.tags.filter((t) => !isStandbyTag(t))])]; // keeps the deployment's tags
      await prefect.updateFlowRun(flowRunId, { ...target, tags }).catch((err) => log.warn({ flowRunId, err: err.message }, "could not rename the standby flow run"));
      return flowRunId;
    } catch (err) {
      log.warn({ runId: run.id, flowRunId, err: (err as Error).message }, "standby flow run not usable; creating a new one");
      await standby.dismissFlowRun(flowRunId).catch(() => undefined);
      return null;
    }
  }

  /** Starts the book's next flow run now, so it is up and waiting when the next stage is due. Best effort. */
  private async prepareStandby(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const { standby, prefect, graph, log } = this.deps;
    if (!standby || run.mode !== "auto" || !nextStage(graph, run.request.stages, stage.stageId)) return;
    try {
      const flowRun = await prefect.createFlowRun({
        name: `${run.id.slice(0, 8)}-standby`,
        parameters: { runId: run.id, stageId: "", attempt: 0, steps: [], standby: true },
        tags: standbyTags(run.id),
        idempotencyKey: `${run.id}:standby-after:${stage.stageId}:${stage.attempt}`,
      });
      await standby.remember(run.id, flowRun.id);
    } catch (err) {
      log.warn({ runId: run.id, err: (err as Error).message }, "could not start a standby flow run; the next stage will start its own");
    }
  }
}
