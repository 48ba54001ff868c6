import type { Guard } from "../config/stageGraphSchema.js";
import type { StageDefinition, StageGraph } from "../config/stageGraph.js";

export type GuardVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Decides whether a stage may start, from the latest accepted output of each step (by step id).
 * A guard without `field` needs the step's output; with `field`, the field must be set (truthy), or
 * equal `equals` when given.
 */
export function evaluateGuard(guard: Guard | undefined, outputs: ReadonlyMap<string, Record<string, unknown>>): GuardVerdict {
  if (!guard) return { ok: true };
  const content = outputs.get(guard.step);
  if (!content) return { ok: false, reason: guard.reason };
  if (guard.field === undefined) return { ok: true };
  const value = content[guard.field];
  const passes = guard.equals === undefined ? Boolean(value) : value === guard.equals;
  return passes ? { ok: true } : { ok: false, reason: guard.reason };
}

/** The stage after `stageId` among the run's chosen stages (graph order), or undefined at the end. */
export function nextStage(graph: StageGraph, chosen: string[], stageId: string | null): StageDefinition | undefined {
  const ordered = graph.stages.filter((s) => chosen.includes(s.id));
  if (stageId === null) return ordered[0];
  const at = ordered.findIndex((s) => s.id === stageId);
  return at < 0 ? undefined : ordered[at + 1];
}

/**
 * Checks at submit time that every chosen stage's guard can ever pass: its step must belong to a chosen
 * stage before it. Returns the first stage whose guard cannot, with the guard's reason.
 */
export function unreachableGuard(graph: StageGraph, chosen: string[]): { stageId: string; reason: string } | undefined {
  const produced = new Set<string>();
  for (const stage of graph.stages.filter((s) => chosen.includes(s.id))) {
    if (stage.guard && !produced.has(stage.guard.step)) {
      return { stageId: stage.id, reason: `${stage.guard.reason}; its stage is not part of this run` };
    }
    stage.steps.forEach((s) => produced.add(s.id));
  }
  return undefined;
}
