import type { StageGraph } from "../config/stageGraph.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { NewEvent, Store } from "../store/store.js";
import { percentComplete, plannedStepIds } from "./progress.js";

export type RunEventFields = { stageId?: string; stepId?: string; status?: string; data?: Record<string, unknown> };
export type RunEventSpec = { type: string } & RunEventFields;

/**
 * Appends a run's event with its percent read in the same transaction as `tx` writes it: under the run's
 * lock, so a step accepted meanwhile is counted or comes after, and percent never goes back between events.
 */
export async function appendRunEvent(tx: Store, graph: StageGraph, run: Pick<RunRecord, "id" | "request">, spec: RunEventSpec): Promise<void> {
  const planned = plannedStepIds(graph, run.request.stages);
  const accepted = (await tx.listOutputs(run.id, { history: false })).map((o) => o.stepId);
  const event: NewEvent = { runId: run.id, percent: percentComplete(planned, accepted), ...spec };
  await tx.appendEvent(event);
}

/**
 * Changes the run only while its status is one of `from`, and appends the event in the same transaction
 * (with `alongside`, other writes that belong to the change): a crash in between can neither lose the
 * event nor report a change that was not made.
 */
export async function updateRunWithEvent(
  store: Store,
  graph: StageGraph,
  run: RunRecord,
  from: RunRecord["status"][],
  patch: Parameters<Store["updateRun"]>[2],
  spec?: RunEventSpec,
  alongside?: (tx: Store) => Promise<void>,
): Promise<boolean> {
  if (!spec && !alongside) return store.updateRun(run.id, from, patch);
  return store.atomically(run.id, async (tx) => {
    const changed = await tx.updateRun(run.id, from, patch);
    if (changed) await alongside?.(tx);
    if (changed && spec) await appendRunEvent(tx, graph, run, spec);
    return changed;
  });
}

type StageRunKey = { runId: string; stageId: string; attempt: number };

/** Finds the stage run of one stage attempt in a run's list. */
export const isAttempt = (key: Omit<StageRunKey, "runId">) => (s: StageRunRecord) => s.stageId === key.stageId && s.attempt === key.attempt;

/**
 * Changes a stage run and appends its event, if any (stage.started, stage.completed), in one transaction;
 * with `only`, just when the stage run as read in that transaction passes it (false: nothing written).
 * Another hand that got there first, with a lock lost to a Redis outage, is not undone nor reported twice.
 */
export async function updateStageRunWithEvent(
  store: Store,
  graph: StageGraph,
  run: RunRecord,
  key: StageRunKey,
  patch: Parameters<Store["updateStageRun"]>[1],
  spec: RunEventSpec | undefined,
  only?: (current: StageRunRecord) => boolean,
): Promise<boolean> {
  return store.atomically(run.id, async (tx) => {
    if (only) {
      const current = (await tx.listStageRuns(run.id)).find(isAttempt(key));
      if (!current || !only(current)) return false;
    }
    await tx.updateStageRun(key, patch);
    if (spec) await appendRunEvent(tx, graph, run, spec);
    return true;
  });
}
