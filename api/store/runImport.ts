import type { Kysely } from "kysely";
import type { RunBundle } from "./runBundle.js";
import type { Database } from "./schema.js";
import { drivenStatuses } from "../runs/runStateMachine.js";
import { intoThePast } from "./bundleClock.js";
import { insertAudit } from "./writeStatements.js";
import { openStageRunStatuses } from "./records.js";

const live = new Set<string>(drivenStatuses);
const liveStage = new Set<string>(openStageRunStatuses);

/**
 * Writes an exported run into this store (inside the caller's transaction). Row ids are this store's
 * own; versions, attempts, event seqs and timestamps are kept (moved back as a whole if they lie in
 * the future: bundleClock.ts). A run that was not finished where it came
 * from is imported as failed, with a reason: its flow runs belong to the other Prefect, and `resume`
 * starts the stage again here, reusing every accepted output. Its stage attempts keep no flow run id:
 * those name flow runs of the other Prefect (or, in this one, another book's), which a cancel or a
 * rollback here would act on. The `stage.started` events still name them.
 */
export async function importRunRows(db: Kysely<Database>, document: RunBundle, eventOrder: (db: Kysely<Database>) => Promise<void>): Promise<void> {
  const importedAt = new Date().toISOString();
  const bundle = intoThePast(document, new Date(importedAt));
  const { run } = bundle;
  const unfinished = live.has(run.status);
  const reason = `imported while ${run.status}; POST .../resume continues it here`;
  await db
    .insertInto("runs")
    .values({
      id: run.id,
      status: unfinished ? "failed" : run.status,
      mode: run.mode,
      category: run.category ?? null,
      request: JSON.stringify(run.request),
      current_stage_id: run.currentStageId ?? null,
      error: unfinished ? reason : (run.error ?? null),
      idempotency_key: null,
      created_at: run.createdAt,
      updated_at: new Date().toISOString(),
      completed_at: run.completedAt ?? null,
    })
    .execute();
  for (const s of bundle.stageRuns) {
    await db
      .insertInto("stage_runs")
      .values({ run_id: run.id, stage_id: s.stageId, attempt: s.attempt, flow_run_id: null, status: liveStage.has(s.status) ? "failed" : s.status, planned_steps: s.plannedSteps, created_at: s.createdAt, started_at: s.startedAt, ended_at: s.endedAt })
      .execute();
  }
  for (const o of bundle.outputs) {
    await db
      .insertInto("step_outputs")
      .values({ run_id: run.id, stage_id: o.stageId, stage_attempt: o.stageAttempt, step_id: o.stepId, iteration: o.iteration, version: o.version, status: o.status, content: JSON.stringify(o.content), provider: o.provider, model: o.model, job_id: o.jobId, created_at: o.createdAt, superseded_at: o.supersededAt })
      .execute();
  }
  // Audit entries and events last, under the order lock: see EventOrderLock in sqlStore.ts.
  for (const { createdAt, ...entry } of bundle.audit) {
    await insertAudit(db, { ...entry, runId: run.id }, eventOrder, createdAt);
  }
  await eventOrder(db);
  for (const e of bundle.events) {
    await db
      .insertInto("events")
      .values({ run_id: run.id, seq: e.seq, type: e.type, stage_id: e.stageId ?? null, step_id: e.stepId ?? null, status: e.status ?? null, percent: e.percent, data: e.data ? JSON.stringify(e.data) : null, at: e.at })
      .execute();
  }
  if (unfinished) {
    // The stream says what the run's status says: it is failed here, with the reason.
    const last = bundle.events.reduce((max, e) => (e.seq > max.seq ? e : max), { seq: 0, percent: 0 });
    await db
      .insertInto("events")
      .values({ run_id: run.id, seq: last.seq + 1, type: "run.failed", stage_id: null, step_id: null, status: "failed", percent: last.percent, data: JSON.stringify({ reason, by: "gateway" }), at: importedAt })
      .execute();
  }
}
