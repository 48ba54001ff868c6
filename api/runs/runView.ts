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
  const planned = plannedStepIds(graph, run.request.stages);
  const accepted = new Set(outputs.map((o) => o.stepId));
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
      plannedSteps: s.plannedSteps,
      completedSteps: outputs.filter((o) => o.stageId === s.stageId && o.stageAttempt === s.attempt).length,
      flowRunId: s.flowRunId,
      prefectUrl: s.flowRunId ? flowRunUrl(links.prefectUiUrl, s.flowRunId) : null,
      createdAt: s.createdAt,
      startedAt: s.startedAt,
      endedAt: s.endedAt,
    })),
    settings: Object.fromEntries(
      run.request.stages.map((id) => [id, planStage(graph, run.request, id, env).steps.map(({ stepId, provider, model, temperature, maxTokens }) => ({ stepId, provider, model, temperature, maxTokens }))]),
    ),
    links: runLinks(links, run.id),
  };
}

/** Where a run and its parts are read: in the run's view and in the answer to its submission. */
export function runLinks(links: RunLinks, runId: string) {
  const self = `${links.gatewayUrl}/orchestrator/runs/${runId}`;
  return { self, outputs: `${self}/outputs`, audit: `${self}/audit`, events: `${self}/events` };
}
