import { type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import { Unavailable } from "../errors.js";

/**
 * Versioned migrations, applied in order by Kysely's Migrator (which records them in its own table).
 * Never edit a migration that has shipped: add the next one.
 */
export type SqlDialect = "sqlite" | "postgres";

/** An auto-numbered integer primary key, in each dialect's words. */
const serialId =
  (dialect: SqlDialect) =>
  <T extends string>(table: CreateTableBuilder<T, any>): CreateTableBuilder<T, any> =>
    dialect === "postgres" ? table.addColumn("id", "bigserial", (c) => c.primaryKey()) : table.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());

const migrationsFor = (dialect: SqlDialect): Record<string, Migration> => ({
  "0001_initial": {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("mode", "text", (c) => c.notNull())
        .addColumn("category", "text")
        .addColumn("request", "text", (c) => c.notNull())
        .addColumn("current_stage_id", "text")
        .addColumn("error", "text")
        .addColumn("idempotency_key", "text", (c) => c.unique())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .addColumn("completed_at", "text")
        .execute();
      await db.schema.createIndex("runs_status").on("runs").columns(["status", "id"]).execute();

      await db.schema
        .createTable("stage_runs")
        .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
        .addColumn("stage_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("flow_run_id", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("planned_steps", "integer", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("started_at", "text")
        .addColumn("first_step_at", "text")
        .addColumn("ended_at", "text")
        .addPrimaryKeyConstraint("stage_runs_pk", ["run_id", "stage_id", "attempt"])
        .execute();

      await db.schema
        .createTable("step_outputs")
        .$call(serialId(dialect))
        .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
        .addColumn("stage_id", "text", (c) => c.notNull())
        .addColumn("stage_attempt", "integer", (c) => c.notNull())
        .addColumn("step_id", "text", (c) => c.notNull())
        .addColumn("iteration", "integer", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("content", "text", (c) => c.notNull())
        .addColumn("provider", "text", (c) => c.notNull())
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("superseded_at", "text")
        .execute();
      // Versions are never overwritten: (run, step, version) is unique, and at most one accepted output
      // exists per step (and loop iteration) of a run, so a duplicate delivery cannot write a second one.
      // A rollback marks outputs superseded, which makes room for the next attempt's.
      await db.schema.createIndex("step_outputs_version").on("step_outputs").columns(["run_id", "step_id", "version"]).unique().execute();
      await sql`CREATE UNIQUE INDEX step_outputs_one_accepted ON step_outputs (run_id, stage_id, step_id, iteration) WHERE status = 'accepted'`.execute(db);

      await db.schema
        .createTable("audit_entries")
        .$call(serialId(dialect))
        .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
        .addColumn("stage_id", "text", (c) => c.notNull())
        .addColumn("stage_attempt", "integer", (c) => c.notNull())
        .addColumn("step_id", "text", (c) => c.notNull())
        .addColumn("iteration", "integer", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("provider", "text", (c) => c.notNull())
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("temperature", "real", (c) => c.notNull())
        .addColumn("max_tokens", "integer", (c) => c.notNull())
        .addColumn("request", "text", (c) => c.notNull())
        .addColumn("response", "text")
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("error", "text")
        .addColumn("input_tokens", "integer")
        .addColumn("output_tokens", "integer")
        .addColumn("latency_ms", "integer", (c) => c.notNull())
        .addColumn("finish_reason", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("audit_by_run").on("audit_entries").columns(["run_id", "id"]).execute();

      // `id` orders events across runs (the SSE id of the dashboards' stream); `seq` within a run.
      await db.schema
        .createTable("events")
        .$call(serialId(dialect))
        .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("stage_id", "text")
        .addColumn("step_id", "text")
        .addColumn("status", "text")
        .addColumn("percent", "real", (c) => c.notNull())
        .addColumn("data", "text")
        .addColumn("at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("events_run_seq").on("events").columns(["run_id", "seq"]).unique().execute();
    },
  },
  // The audit trail is append-only in the database itself, not only in the code: an UPDATE or DELETE
  // (by a bug, a script, a hand in psql) fails.
  "0002_audit_append_only": {
    async up(db: Kysely<any>) {
      if (dialect === "postgres") {
        await sql`CREATE FUNCTION quire_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'audit entries are immutable: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$`.execute(db);
        await sql`CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION quire_audit_append_only()`.execute(db);
        await sql`CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION quire_audit_append_only()`.execute(db);
      } else {
        await sql`CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are immutable: UPDATE refused'); END`.execute(db);
        await sql`CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are immutable: DELETE refused'); END`.execute(db);
      }
    },
  },
  // Never written: a stage's first step is read from its events (api/runs/stageTimings.ts).
  "0003_drop_first_step_at": {
    async up(db: Kysely<any>) {
      await db.schema.alterTable("stage_runs").dropColumn("first_step_at").execute();
    },
  },
  // GET /orchestrator/runs lists the newest first.
  "0004_runs_by_creation": {
    async up(db: Kysely<any>) {
      await db.schema.createIndex("runs_created").on("runs").columns(["created_at", "id"]).execute();
    },
  },
});

export async function migrateToLatest(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(dialect) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Unavailable(`store migration ${failed?.migrationName ?? ""} failed: ${String(error)}`, undefined, { cause: error });
  }
}
