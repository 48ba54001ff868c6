import type { StageGraph } from "../config/stageGraph.js";
import type { RunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { percentComplete, plannedStepIds } from "./progress.js";

export type RunEventFields = { stageId?: string; stepId?: string; status?: string; data?: Record<string, unknown> };

/** Appends a run-level event with the run's current percent. */
export async function emitRunEvent(store: Store, graph: StageGraph, run: RunRecord, type: string, fields: RunEventFields = {}): Promise<void> {
  const planned = plannedStepIds(graph, run.request.stages);
  const accepted = (await store.listOutputs(run.id, { history: false })).map((o) => o.stepId);
  await store.appendEvent({ runId: run.id, type, percent: percentComplete(planned, accepted), ...fields });
}
