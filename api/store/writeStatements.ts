import type { Kysely, Transaction } from "kysely";
import type { EventRecord, StepKey } from "./records.js";
import { toEvent } from "./rowMapping.js";
import type { Database } from "./schema.js";
import type { NewAudit, NewEvent, NewOutput } from "./store.js";

/** Statements shared by the store's write paths (sqlStore.ts) and run import (runImport.ts). */

const now = () => new Date().toISOString();

/** Why a step result must not be accepted any more, or undefined when it may. */
export async function lateResultReason(db: Kysely<Database>, output: NewOutput): Promise<string | undefined> {
  const run = await db.selectFrom("runs").select("status").where("id", "=", output.runId).executeTakeFirst();
  if (!run) return `run ${output.runId} does not exist`;
  if (run.status === "cancelling" || run.status === "cancelled") return `run is ${run.status}`;
  // A later attempt of the stage (after a crash, or a resume after a failure) asks the same of the step:
  // an answer from an earlier one is as good, and taken, so the step is not paid for twice. Only a
  // rollback changes what the step builds on.
  if (await rolledBackSinceStarted(db, output)) return `attempt ${output.stageAttempt} of ${output.stageId} was rolled back`;
  return undefined;
}

/**
 * Whether a rollback over the output's stage came after its attempt started: a job of a later stage that
 * finishes after a rollback to an earlier one was built on superseded inputs, though its stage has no newer
 * attempt yet. Ordered by the run's event seq (written under the run's lock), not by clocks.
 */
async function rolledBackSinceStarted(db: Kysely<Database>, output: NewOutput): Promise<boolean> {
  const marks = await db
    .selectFrom("events")
    .select(["seq", "type", "stage_id", "data"])
    .where("run_id", "=", output.runId)
    .where("type", "in", ["stage.started", "run.rolled_back"])
    .orderBy("seq")
    .execute();
  const data = (row: { data: string | null }) => (row.data ? (JSON.parse(row.data) as { attempt?: number; stages?: string[] }) : {});
  const started = marks.find((e) => e.type === "stage.started" && e.stage_id === output.stageId && data(e).attempt === output.stageAttempt);
  return !!started && marks.some((e) => e.type === "run.rolled_back" && e.seq > started.seq && (data(e).stages ?? []).includes(output.stageId));
}

/** Inserts an accepted output as the step's next version (versions never overwrite); the caller holds the run's lock. */
export async function insertNextVersion(db: Kysely<Database>, output: NewOutput) {
  const { max } = await db
    .selectFrom("step_outputs")
    .select((eb) => eb.fn.max<number | null>("version").as("max"))
    .where("run_id", "=", output.runId)
    .where("step_id", "=", output.stepId)
    .executeTakeFirstOrThrow();
  const row = {
    run_id: output.runId,
    stage_id: output.stageId,
    stage_attempt: output.stageAttempt,
    step_id: output.stepId,
    iteration: output.iteration,
    version: Number(max ?? 0) + 1,
    status: "accepted",
    content: JSON.stringify(output.content),
    provider: output.provider,
    model: output.model,
    job_id: output.jobId,
    created_at: now(),
    superseded_at: null,
  };
  return db.insertInto("step_outputs").values(row).returningAll().executeTakeFirstOrThrow();
}

/** The steps of the run that have an accepted output (this transaction's own included). */
export async function acceptedStepIds(db: Kysely<Database> | Transaction<Database>, runId: string): Promise<string[]> {
  const rows = await db.selectFrom("step_outputs").select("step_id").where("run_id", "=", runId).where("status", "=", "accepted").execute();
  return rows.map((r) => r.step_id);
}

export function acceptedOutputQuery(db: Kysely<Database> | Transaction<Database>, key: StepKey) {
  return db
    .selectFrom("step_outputs")
    .selectAll()
    .where("run_id", "=", key.runId)
    .where("stage_id", "=", key.stageId)
    .where("step_id", "=", key.stepId)
    .where("iteration", "=", key.iteration)
    .where("status", "=", "accepted");
}

/**
 * Records one exchange; `createdAt` is now, except for an imported entry, which keeps its own. Like an
 * event, it is among the transaction's last writes, under `eventOrder`: audit ids become visible in order,
 * so a reader paging by `afterId` never skips one.
 */
export async function insertAudit(db: Kysely<Database>, a: NewAudit, eventOrder: (db: Kysely<Database>) => Promise<void>, createdAt = now()) {
  await eventOrder(db);
  await db
    .insertInto("audit_entries")
    .values({
      run_id: a.runId,
      stage_id: a.stageId,
      stage_attempt: a.stageAttempt,
      step_id: a.stepId,
      iteration: a.iteration,
      job_id: a.jobId,
      attempt: a.attempt,
      provider: a.provider,
      model: a.model,
      temperature: a.temperature,
      max_tokens: a.maxTokens,
      request: JSON.stringify(a.request),
      response: a.response === undefined || a.response === null ? null : JSON.stringify(a.response),
      outcome: a.outcome,
      error: a.error,
      input_tokens: a.inputTokens,
      output_tokens: a.outputTokens,
      latency_ms: Math.round(a.latencyMs),
      finish_reason: a.finishReason,
      created_at: createdAt,
    })
    .execute();
}

/**
 * Appends with the next seq of the run; callers hold the write lock, so seq is gap-free and monotonic.
 * It is the transaction's last write: `eventOrder` (sqlStore.ts) is held from here to the commit.
 */
export async function appendEventIn(db: Kysely<Database>, e: NewEvent, eventOrder: (db: Kysely<Database>) => Promise<void>): Promise<EventRecord> {
  await eventOrder(db);
  const { max } = await db
    .selectFrom("events")
    .select((eb) => eb.fn.max<number | null>("seq").as("max"))
    .where("run_id", "=", e.runId)
    .executeTakeFirstOrThrow();
  const row = {
    run_id: e.runId,
    seq: Number(max ?? 0) + 1,
    type: e.type,
    stage_id: e.stageId ?? null,
    step_id: e.stepId ?? null,
    status: e.status ?? null,
    percent: e.percent,
    data: e.data ? JSON.stringify(e.data) : null,
    at: new Date().toISOString(),
  };
  return toEvent(await db.insertInto("events").values(row).returningAll().executeTakeFirstOrThrow());
}
