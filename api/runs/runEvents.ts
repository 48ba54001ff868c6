import type { StageGraph } from "../config/stageGraph.js";
import type { RunRecord } from "../store/records.js";
import type { NewEvent, Store } from "../store/store.js";
import { percentComplete, plannedStepIds } from "./progress.js";

export type RunEventFields = { stageId?: string; stepId?: string; status?: string; data?: Record<string, unknown> };

/** A run-level event with the run's current percent, to be written with the change it reports. */
export async function runEvent(store: Store, graph: StageGraph, run: RunRecord, type: string, fields: RunEventFields = {}): Promise<NewEvent> {
  const planned = plannedStepIds(graph, run.request.stages);
  const accepted = (await store.listOutputs(run.id, { history: false })).map((o) => o.stepId);
  return { runId: run.id, type, percent: percentComplete(planned, accepted), ...fields };
}

/**
 * Changes the run only while its status is one of `from`, and appends the event in the same transaction:
 * a crash between the two can neither lose the event nor report a change that was not made.
 */
export async function updateRunWithEvent(store: Store, runId: string, from: RunRecord["status"][], patch: Parameters<Store["updateRun"]>[2], event?: NewEvent): Promise<boolean> {
  if (!event) return store.updateRun(runId, from, patch);
  return store.atomically(runId, async (tx) => {
    const changed = await tx.updateRun(runId, from, patch);
    if (changed) await tx.appendEvent(event);
    return changed;
  });
}
