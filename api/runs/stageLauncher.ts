import type { Logger } from "pino";
import type { StageGraph } from "../config/stageGraph.js";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { withSpan } from "../tracing.js";
import { nextStage } from "./guards.js";
import { isAttempt, updateStageRunWithEvent } from "./runEvents.js";
import { stepsRunStatuses } from "./runStateMachine.js";
import { planStage, type ProviderDefaults } from "./stagePlan.js";
import type { StandbyHandOver } from "./standbyHandOver.js";

export interface StageLauncherDeps {
  store: Store;
  prefect: PrefectRuns;
  graph: StageGraph;
  providerDefaults: ProviderDefaults;
  log: Logger;
  /** When given, a stage takes a waiting flow run if one is up, and each stage of an auto-mode book starts the book's next one ahead. */
  handOver?: StandbyHandOver;
}

const BOOK_TAG_PREFIX = "book:";

/** The Prefect tag that names a stage flow run's book. */
export const bookTag = (runId: string) => `${BOOK_TAG_PREFIX}${runId}`;

/** The book a flow run's tags name, if any (a spare's tags name none). */
export const bookOfTags = (tags: string[]) => tags.find((t) => t.startsWith(BOOK_TAG_PREFIX) && t.length > BOOK_TAG_PREFIX.length)?.slice(BOOK_TAG_PREFIX.length);

/**
 * Starts a stage: records the stage run (the next attempt of that stage), then gives it a flow run of the
 * run-stage deployment and appends `stage.started`. The flow run is a waiting one when one is there (the
 * book's standby or a spare, already started, so the stage's first step follows at once; see
 * standbyHandOver.ts), else a new one whose idempotency key is the stage attempt, so a repeat after a
 * crash between the writes finds the same flow run instead of starting a second one.
 */
export class StageLauncher {
  constructor(private readonly deps: StageLauncherDeps) {}

  /**
   * @param opts.fresh a new flow run, not a waiting one: after a crash (a killed worker), the waiting flow
   * runs may have died with it, and their leases have not lapsed yet.
   */
  start(run: RunRecord, stageId: string, opts: { fresh?: boolean } = {}): Promise<StageRunRecord> {
    return withSpan(`stage ${stageId}`, { "quire.run_id": run.id, "quire.stage_id": stageId }, () => this.startStage(run, stageId, opts.fresh ?? false));
  }

  private async startStage(run: RunRecord, stageId: string, fresh: boolean): Promise<StageRunRecord> {
    const stage = await this.deps.store.insertStageRun(await this.nextAttempt(run, stageId));
    await this.startRecorded(run, stage, fresh);
    return stage;
  }

  /** The stage run a start of this stage records: the attempt after its latest, with its planned steps. */
  async nextAttempt(run: RunRecord, stageId: string): Promise<Pick<StageRunRecord, "runId" | "stageId" | "attempt" | "plannedSteps">> {
    const previous = (await this.deps.store.listStageRuns(run.id)).filter((s) => s.stageId === stageId);
    const plan = planStage(this.deps.graph, run.request, stageId, this.deps.providerDefaults);
    return { runId: run.id, stageId, attempt: Math.max(0, ...previous.map((s) => s.attempt)) + 1, plannedSteps: plan.steps.length };
  }

  /** Starts a stage run already recorded (by insertStageRun, or with a rollback's writes). */
  async startRecorded(run: RunRecord, stage: StageRunRecord, fresh = false): Promise<void> {
    await this.createFlowRun(run, stage, fresh);
    await this.prepareStandby(run, stage);
  }

  /** Gives the stage its flow run and announces the stage (before any of its steps can run). */
  async createFlowRun(run: RunRecord, stage: StageRunRecord, fresh = false): Promise<void> {
    const waiting = fresh ? null : await this.deps.handOver?.handOver(run.id, this.flowRunFor(run, stage));
    const flowRunId = waiting?.flowRunId ?? (await this.createFlowRunOnly(run, stage));
    const key = { runId: run.id, stageId: stage.stageId, attempt: stage.attempt };
    const started = { type: "stage.started", stageId: stage.stageId, status: "scheduled", data: { attempt: stage.attempt, flowRunId } };
    const recorded = await updateStageRunWithEvent(this.deps.store, this.deps.graph, run, key, { flowRunId }, started, (s) => !s.flowRunId);
    if (!recorded) {
      // Another gateway gave the attempt its flow run first (this one's lock lapsed): ours would run the stage twice.
      const theirs = (await this.deps.store.listStageRuns(run.id)).find(isAttempt(stage))?.flowRunId;
      if (theirs && theirs !== flowRunId) {
        this.deps.log.warn({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt, flowRunId, theirs }, "the stage attempt already has a flow run; cancelling this one");
        await this.deps.prefect.cancel(flowRunId).catch(() => undefined);
      }
      return;
    }
    this.deps.log.info({ runId: run.id, stageId: stage.stageId, attempt: stage.attempt, flowRunId }, "stage flow run ready");
    // A waiting flow run is renamed in Prefect only now: its steps may already be under way.
    await waiting?.describe();
  }

  /** Renames a waiting flow run that was given the stage but kept its waiting name and parameters in Prefect. */
  async describeHandedOver(run: RunRecord, stage: StageRunRecord, flowRun: FlowRunView): Promise<void> {
    await this.deps.handOver?.describe(flowRun, this.flowRunFor(run, stage));
  }

  private flowRunFor(run: RunRecord, stage: StageRunRecord) {
    const plan = planStage(this.deps.graph, run.request, stage.stageId, this.deps.providerDefaults);
    return {
      name: `${run.id.slice(0, 8)}-${stage.stageId}-a${stage.attempt}`,
      parameters: { runId: run.id, stageId: stage.stageId, attempt: stage.attempt, steps: plan.steps, ...(plan.loop ? { loop: plan.loop } : {}) },
      tags: [bookTag(run.id), `stage:${stage.stageId}`, ...(run.category ? [`category:${run.category}`] : [])],
    };
  }

  private async createFlowRunOnly(run: RunRecord, stage: StageRunRecord): Promise<string> {
    const flowRun = await this.deps.prefect.createFlowRun({ ...this.flowRunFor(run, stage), idempotencyKey: `${run.id}:${stage.stageId}:${stage.attempt}` });
    return flowRun.id;
  }

  /**
   * Starts the book's next flow run now, so it is up and waiting when the next stage is due. Best effort.
   * Awaited, so a driver creates flow runs one at a time (creations that overlap collide in Prefect's SQLite:
   * 503 "database is locked", retried); with it off the driver's path, 20 books ran slower in the bench.
   */
  private async prepareStandby(run: RunRecord, stage: StageRunRecord): Promise<void> {
    const { handOver, graph, store } = this.deps;
    if (!handOver || run.mode !== "auto" || !nextStage(graph, run.request.stages, stage.stageId)) return;
    const stillDriven = async () => stepsRunStatuses.includes((await store.getRun(run.id))?.status ?? "failed");
    await handOver.prepareStandby(run.id, `${run.id}:standby-after:${stage.stageId}:${stage.attempt}`, stillDriven);
  }
}
