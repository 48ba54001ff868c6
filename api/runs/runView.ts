import { findStage, type StageGraph } from "../config/stageGraph.js";
import type { RunRecord, StageRunRecord, StepOutputRecord } from "../store/records.js";
import { percentComplete, plannedStepIds } from "./progress.js";
import { planStage, type ProviderDefaults } from "./stagePlan.js";

export interface RunLinks {
  gatewayUrl: string;
  prefectUiUrl: string;
}

export const flowRunUrl = (prefectUiUrl: string, flowRunId: string) => `${prefectUiUrl}/flow-runs/flow-run/${flowRunId}`;

/** The client's view of a run (GET /orchestrator/runs/:id), projected from stored records. Pure. */
export function runView(run: RunRecord, stageRuns: StageRunRecord[], outputs: StepOutputRecord[], graph: StageGraph, env: ProviderDefaults, links: RunLinks) {
  const accepted = new Set(outputs.map((o) => o.stepId));
  // A completed book counts the steps it ran: a step added to the graph since was never part of it.
  const planned = run.status === "completed" ? [...new Set(outputs.filter((o) => run.request.stages.includes(o.stageId)).map((o) => o.stepId))] : plannedStepIds(graph, run.request.stages);
  const currentStage = run.currentStageId ? findStage(graph, run.currentStageId) : undefined;
  const currentStep = run.status === "completed" ? null : currentStage?.steps.find((s) => !accepted.has(s.id))?.id ?? null;
  return {
    runId: run.id,
    status: run.status,
    mode: run.mode,
    category: run.category,
    idea: run.request.idea,
    currentStage: run.currentStageId,
    currentStep,
    percent: percentComplete(planned, accepted),
    completedSteps: planned.filter((id) => accepted.has(id)).length,
    plannedSteps: planned.length,
    error: run.error,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    completedAt: run.completedAt,
    stages: stageRuns.map((s) => ({
      stageId: s.stageId,
      attempt: s.attempt,
      status: s.status,
      /** The stage's latest attempt: what the stage is now (an earlier one was replaced by a resume or a rollback). */
      current: !stageRuns.some((later) => later.stageId === s.stageId && later.attempt > s.attempt),
      plannedSteps: s.plannedSteps,
      completedSteps: stepsDoneBy(outputs, s),
      flowRunId: s.flowRunId,
      prefectUrl: s.flowRunId ? flowRunUrl(links.prefectUiUrl, s.flowRunId) : null,
      createdAt: utc(s.createdAt),
      startedAt: utc(s.startedAt),
      endedAt: utc(s.endedAt),
    })),
    settings: Object.fromEntries(
      run.request.stages.map((id) => [id, planStage(graph, run.request, id, env).steps.map(({ stepId, provider, model, temperature, maxTokens }) => ({ stepId, provider, model, temperature, maxTokens }))]),
    ),
    links: runLinks(links, run.id),
  };
}

/**
 * The stage's steps that had an accepted output once this attempt ended: its own and those it reused from
 * earlier attempts, a loop's repeated steps once. Outputs a rollback superseded count for none.
 */
function stepsDoneBy(outputs: StepOutputRecord[], stage: StageRunRecord): number {
  return new Set(outputs.filter((o) => o.stageId === stage.stageId && o.stageAttempt <= stage.attempt).map((o) => o.stepId)).size;
}

/** One form for every timestamp: Prefect's (`+00:00`, microseconds) as the store's own (`Z`). */
const utc = (at: string | null) => (at ? new Date(at).toISOString() : null);

/** Where a run and its parts are read: in the run's view and in the answer to its submission. */
export function runLinks(links: RunLinks, runId: string) {
  const self = `${links.gatewayUrl}/orchestrator/runs/${runId}`;
  return { self, outputs: `${self}/outputs`, audit: `${self}/audit`, events: `${self}/events` };
}
