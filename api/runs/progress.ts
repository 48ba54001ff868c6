import type { StageGraph } from "../config/stageGraph.js";

/** The steps a run plans to execute: every step of its chosen stages, in order. */
export function plannedStepIds(graph: StageGraph, stageIds: string[]): string[] {
  return graph.stages.filter((s) => stageIds.includes(s.id)).flatMap((s) => s.steps.map((p) => p.id));
}

/**
 * Percent complete = planned steps with an accepted output / planned steps, to one decimal. A loop's
 * repeated steps count once, so the figure never passes 100; a rollback supersedes outputs and so lowers it.
 */
export function percentComplete(planned: string[], acceptedStepIds: Iterable<string>): number {
  if (!planned.length) return 0;
  const accepted = new Set(acceptedStepIds);
  const done = planned.filter((id) => accepted.has(id)).length;
  return Math.round((1000 * done) / planned.length) / 10;
}
