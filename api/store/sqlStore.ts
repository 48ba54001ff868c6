import { type Kysely, sql } from "kysely";
import { openStageRunStatuses, type AuditRecord, type EventRecord, type RunRecord, type StageRunRecord, type StageRunStatus, type StepKey, type StepOutputRecord } from "./records.js";
import { toAudit, toEvent, toOutput, toRun, toStageRun } from "./rowMapping.js";
import type { RunBundle } from "./runBundle.js";
import { exportRunFrom } from "./runExport.js";
import { importRunRows } from "./runImport.js";
import { acceptedOutputQuery, acceptedStepIds, appendEventIn, insertAudit, insertNextVersion, lateResultReason } from "./writeStatements.js";
import type { Database } from "./schema.js";
import type { AcceptedOutputEvent, AuditFilter, NewAudit, NewEvent, NewOutput, Store } from "./store.js";

const now = () => new Date().toISOString();

/**
 * Runs `fn` in a write transaction that holds the lock named `lockKey` (a run id, or an idempotency key),
 * so a read-then-write (next version, next event seq) cannot race another writer of the same run.
 */
export type WriteTransaction = <T>(lockKey: string, fn: (trx: Kysely<Database>) => Promise<T>) => Promise<T>;

/**
 * Taken in a write transaction just before it inserts events or audit entries (its last statements), until
 * it ends: their ids then become visible in the order they were given, so a reader that follows `id > last
 * seen` (GET /events, audit pages by `afterId`) never skips one. Postgres needs it (one lock per run lets
 * two runs commit out of id order); SQLite has one writer at a time anyway.
 */
export type EventOrderLock = (trx: Kysely<Database>) => Promise<void>;

/** Runs `fn` in a read-only transaction that sees one snapshot, taking no write lock (writers go on). */
export type ReadSnapshot = <T>(fn: (trx: Kysely<Database>) => Promise<T>) => Promise<T>;

/**
 * The store over SQL through Kysely: the same queries for SQLite (the embedded default) and Postgres
 * (when DATABASE_URL is set); only opening, migrations' column types and the write lock differ
 * (openStore.ts).
 */
export class SqlStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly writeTransaction: WriteTransaction,
    private readonly eventOrder: EventOrderLock = async () => undefined,
    private readonly readSnapshot: ReadSnapshot = (fn) => fn(db),
  ) {}

  async ping() {
    await sql`select 1`.execute(this.db);
  }

  async close() {
    await this.db.destroy();
  }

  atomically<T>(runId: string, fn: (tx: Store) => Promise<T>): Promise<T> {
    // Inside, every write joins the one transaction (which already holds the run's lock).
    return this.writeTransaction(runId, (trx) => fn(this.boundTo(trx)));
  }

  /** This store over one transaction: its writes join it instead of starting their own. */
  private boundTo(trx: Kysely<Database>): SqlStore {
    return new SqlStore(trx, (_lockKey, inner) => inner(trx), this.eventOrder, (inner) => inner(trx));
  }

  async createRun(run: { id: string; request: RunRecord["request"]; idempotencyKey?: string }) {
    return this.writeTransaction(run.idempotencyKey ?? run.id, async (db) => {
      if (run.idempotencyKey) {
        const existing = await db.selectFrom("runs").selectAll().where("idempotency_key", "=", run.idempotencyKey).executeTakeFirst();
        if (existing) return { run: toRun(existing), created: false };
      }
      const at = now();
      const row = {
        id: run.id,
        status: "queued",
        mode: run.request.mode,
        category: run.request.idea.category ?? null,
        request: JSON.stringify(run.request),
        current_stage_id: null,
        error: null,
        idempotency_key: run.idempotencyKey ?? null,
        created_at: at,
        updated_at: at,
        completed_at: null,
      };
      await db.insertInto("runs").values(row).execute();
      await appendEventIn(db, { runId: run.id, type: "run.queued", status: "queued", percent: 0 }, this.eventOrder);
      return { run: toRun(row), created: true };
    });
  }

  async getRun(id: string) {
    const row = await this.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toRun(row);
  }

  async countRunsByStatus() {
    const rows = await this.db.selectFrom("runs").select(["status", (eb) => eb.fn.countAll<number>().as("count")]).groupBy("status").execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
  }

  async listRuns(filter: { statuses?: RunRecord["status"][]; category?: string; limit: number; afterId?: string }) {
    let q = this.db.selectFrom("runs").selectAll().orderBy("id").limit(filter.limit);
    if (filter.statuses?.length) q = q.where("status", "in", filter.statuses);
    if (filter.category) q = q.where("category", "=", filter.category);
    if (filter.afterId) q = q.where("id", ">", filter.afterId);
    return (await q.execute()).map(toRun);
  }

  async listRecentRuns(filter: { statuses?: RunRecord["status"][]; category?: string; limit: number; before?: { createdAt: string; id: string } }) {
    let q = this.db.selectFrom("runs").selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(filter.limit);
    if (filter.statuses?.length) q = q.where("status", "in", filter.statuses);
    if (filter.category) q = q.where("category", "=", filter.category);
    const before = filter.before;
    if (before) q = q.where((eb) => eb.or([eb("created_at", "<", before.createdAt), eb.and([eb("created_at", "=", before.createdAt), eb("id", "<", before.id)])]));
    return (await q.execute()).map(toRun);
  }

  async updateRun(id: string, from: RunRecord["status"][], patch: Partial<Pick<RunRecord, "status" | "currentStageId" | "error" | "completedAt">>) {
    const result = await this.db
      .updateTable("runs")
      .set({
        updated_at: now(),
        ...(patch.status !== undefined && { status: patch.status }),
        ...(patch.currentStageId !== undefined && { current_stage_id: patch.currentStageId }),
        ...(patch.error !== undefined && { error: patch.error }),
        ...(patch.completedAt !== undefined && { completed_at: patch.completedAt }),
      })
      .where("id", "=", id)
      .where("status", "in", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async insertStageRun(stage: Pick<StageRunRecord, "runId" | "stageId" | "attempt" | "plannedSteps">) {
    const row = {
      run_id: stage.runId,
      stage_id: stage.stageId,
      attempt: stage.attempt,
      flow_run_id: null,
      status: "scheduled",
      planned_steps: stage.plannedSteps,
      created_at: now(),
      started_at: null,
      ended_at: null,
    };
    return this.writeTransaction(stage.runId, async (db) => {
      // The book moves on to this attempt: an earlier one left open (paused, or not started) is over.
      await endOpenStageRunsIn(db, stage.runId, "superseded", stage);
      await db.insertInto("stage_runs").values(row).onConflict((oc) => oc.doNothing()).execute();
      const stored = await db
        .selectFrom("stage_runs")
        .selectAll()
        .where("run_id", "=", stage.runId)
        .where("stage_id", "=", stage.stageId)
        .where("attempt", "=", stage.attempt)
        .executeTakeFirstOrThrow();
      return toStageRun(stored);
    });
  }

  async endOpenStageRuns(runId: string, status: StageRunStatus) {
    await endOpenStageRunsIn(this.db, runId, status);
  }

  async updateStageRun(key: { runId: string; stageId: string; attempt: number }, patch: Partial<Omit<StageRunRecord, "runId" | "stageId" | "attempt">>) {
    await this.db
      .updateTable("stage_runs")
      .set({
        ...(patch.flowRunId !== undefined && { flow_run_id: patch.flowRunId }),
        ...(patch.status !== undefined && { status: patch.status }),
        ...(patch.plannedSteps !== undefined && { planned_steps: patch.plannedSteps }),
        ...(patch.startedAt !== undefined && { started_at: patch.startedAt }),
        ...(patch.endedAt !== undefined && { ended_at: patch.endedAt }),
      })
      .where("run_id", "=", key.runId)
      .where("stage_id", "=", key.stageId)
      .where("attempt", "=", key.attempt)
      .execute();
  }

  async listStageRuns(runId: string) {
    const rows = await this.db.selectFrom("stage_runs").selectAll().where("run_id", "=", runId).orderBy("created_at").orderBy("attempt").execute();
    return rows.map(toStageRun);
  }

  async findAcceptedOutput(key: StepKey) {
    const row = await acceptedOutputQuery(this.db, key).executeTakeFirst();
    return row && toOutput(row);
  }

  async latestAcceptedOutputs(runId: string, stepIds: string[]) {
    if (!stepIds.length) return [];
    const rows = await this.db
      .selectFrom("step_outputs")
      .selectAll()
      .where("run_id", "=", runId)
      .where("step_id", "in", stepIds)
      .where("status", "=", "accepted")
      .orderBy("version", "desc")
      .execute();
    const latest = new Map<string, StepOutputRecord>();
    for (const row of rows) if (!latest.has(row.step_id)) latest.set(row.step_id, toOutput(row));
    return stepIds.flatMap((id) => latest.get(id) ?? []);
  }

  async listOutputs(runId: string, filter: { stageId?: string; history: boolean }) {
    let q = this.db.selectFrom("step_outputs").selectAll().where("run_id", "=", runId).orderBy("id");
    if (filter.stageId) q = q.where("stage_id", "=", filter.stageId);
    if (!filter.history) q = q.where("status", "=", "accepted");
    return (await q.execute()).map(toOutput);
  }

  async acceptOutput(output: NewOutput, audit: NewAudit, event: AcceptedOutputEvent) {
    return this.writeTransaction(output.runId, async (db): Promise<{ output: StepOutputRecord; created: boolean } | { abandoned: string }> => {
      const existing = await acceptedOutputQuery(db, output).executeTakeFirst();
      if (existing) {
        // Another try of the step got there first (a try Prefect timed out still running): this exchange is
        // audited too, its answer not written.
        await insertAudit(db, { ...audit, outcome: "abandoned", error: `the step already has an accepted output (version ${existing.version}); this answer was not used` }, this.eventOrder);
        return { output: toOutput(existing), created: false };
      }
      const abandoned = await lateResultReason(db, output);
      if (abandoned) {
        await insertAudit(db, { ...audit, outcome: "abandoned", error: abandoned }, this.eventOrder);
        return { abandoned };
      }
      const inserted = await insertNextVersion(db, output);
      await insertAudit(db, audit, this.eventOrder);
      const percent = typeof event.percent === "function" ? event.percent(await acceptedStepIds(db, output.runId)) : event.percent;
      await appendEventIn(db, { ...event, percent }, this.eventOrder);
      return { output: toOutput(inserted), created: true };
    });
  }

  async supersedeStages(runId: string, stageIds: string[], event: NewEvent) {
    return this.writeTransaction(runId, async (db) => {
      const result = await db
        .updateTable("step_outputs")
        .set({ status: "superseded", superseded_at: now() })
        .where("run_id", "=", runId)
        .where("stage_id", "in", stageIds)
        .where("status", "=", "accepted")
        .executeTakeFirst();
      const count = Number(result.numUpdatedRows);
      await appendEventIn(db, { ...event, data: { ...event.data, supersededOutputs: count } }, this.eventOrder);
      return count;
    });
  }

  async recordAudit(audit: NewAudit) {
    await this.writeTransaction(audit.runId, (db) => insertAudit(db, audit, this.eventOrder));
  }

  async listAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    let q = this.db.selectFrom("audit_entries").selectAll().orderBy("id").limit(filter.limit ?? 10_000);
    if (filter.runId) q = q.where("run_id", "=", filter.runId);
    if (filter.stageId) q = q.where("stage_id", "=", filter.stageId);
    if (filter.stepId) q = q.where("step_id", "=", filter.stepId);
    if (filter.provider) q = q.where("provider", "=", filter.provider);
    if (filter.afterId) q = q.where("id", ">", filter.afterId);
    // Stored as ISO text with milliseconds: a bound without them ("...T12:00:05Z") compares as text
    // after "...T12:00:05.389Z", so it is written the same way first.
    if (filter.from) q = q.where("created_at", ">=", new Date(filter.from).toISOString());
    if (filter.to) q = q.where("created_at", "<", new Date(filter.to).toISOString());
    return (await q.execute()).map(toAudit);
  }

  async appendEvent(event: NewEvent): Promise<EventRecord> {
    return this.writeTransaction(event.runId, (db) => appendEventIn(db, event, this.eventOrder));
  }

  async listEventsAfter(afterId: number, filter: { category?: string; limit: number }) {
    let q = this.db.selectFrom("events").selectAll("events").where("events.id", ">", afterId).orderBy("events.id").limit(filter.limit);
    if (filter.category) q = q.innerJoin("runs", "runs.id", "events.run_id").where("runs.category", "=", filter.category);
    return (await q.execute()).map(toEvent);
  }

  async latestEventId() {
    const { max } = await this.db.selectFrom("events").select((eb) => eb.fn.max<number | null>("id").as("max")).executeTakeFirstOrThrow();
    return Number(max ?? 0);
  }

  async listEvents(runId: string, afterSeq = 0) {
    const rows = await this.db.selectFrom("events").selectAll().where("run_id", "=", runId).where("seq", ">", afterSeq).orderBy("seq").execute();
    return rows.map(toEvent);
  }

  async exportRun(runId: string): Promise<RunBundle | null> {
    // One snapshot (an output and its event are committed together), without holding up any writer.
    return this.readSnapshot((trx) => exportRunFrom(this.boundTo(trx), runId));
  }

  async importRun(bundle: RunBundle): Promise<boolean> {
    return this.writeTransaction(bundle.run.id, async (db) => {
      if (await db.selectFrom("runs").select("id").where("id", "=", bundle.run.id).executeTakeFirst()) return false;
      await importRunRows(db, bundle, this.eventOrder);
      return true;
    });
  }
}

/** Ends the run's stage runs that have not finished (all but `except`, a stage attempt being recorded again). */
async function endOpenStageRunsIn(db: Kysely<Database>, runId: string, status: StageRunStatus, except?: { stageId: string; attempt: number }) {
  let q = db.updateTable("stage_runs").set({ status, ended_at: now() }).where("run_id", "=", runId).where("status", "in", openStageRunStatuses);
  if (except) q = q.where((eb) => eb.not(eb.and([eb("stage_id", "=", except.stageId), eb("attempt", "=", except.attempt)])));
  await q.execute();
}
