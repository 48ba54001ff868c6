import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { migrateToLatest, type SqlDialect } from "./migrations.js";
import type { Database } from "./schema.js";
import { SqlStore, type EventOrderLock, type ReadSnapshot, type WriteTransaction } from "./sqlStore.js";

export interface StoreOpenOptions {
  migrate: boolean;
  /** Who is connecting (Postgres shows it in pg_stat_activity as application_name), e.g. "quire-gateway-<pid>". */
  clientName?: string;
}

/** Opens the store named by the settings: Postgres when a URL is given, else the SQLite file. */
export function openStore(settings: { sqlitePath: string; databaseUrl?: string }, opts: StoreOpenOptions): Promise<SqlStore> {
  return settings.databaseUrl ? openPostgresStore(settings.databaseUrl, opts) : openSqliteStore(settings.sqlitePath, opts);
}

/**
 * SQLite: one file shared by the gateway and the agent workers (WAL mode, so readers never block the
 * writer; a busy timeout, so writers from several processes queue). BEGIN IMMEDIATE takes the write lock
 * up front, so a read-then-write cannot fail on a lock upgrade.
 */
export async function openSqliteStore(path: string, opts: { migrate: boolean }): Promise<SqlStore> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const database = new BetterSqlite3(path);
  database.pragma("journal_mode = WAL");
  database.pragma("busy_timeout = 10000");
  database.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  if (opts.migrate) await migrateToLatest(db, "sqlite");
  const writeTransaction: WriteTransaction = (_lockKey, fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn);
        throw err;
      }
    });
  // A deferred BEGIN takes no lock; under WAL its first read fixes the snapshot the rest of it sees.
  const readSnapshot: ReadSnapshot = (fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        return await fn(conn);
      } finally {
        await sql`commit`.execute(conn);
      }
    });
  return new SqlStore(db, writeTransaction, undefined, readSnapshot);
}

/**
 * Postgres: a pool per process; a write transaction takes a transaction-scoped advisory lock on its key
 * (the run), so writers of one run queue and writers of different runs do not wait for each other, but
 * for a moment at the end: their events are inserted in turn (EventOrderLock in sqlStore.ts).
 */
export async function openPostgresStore(url: string, opts: StoreOpenOptions): Promise<SqlStore> {
  const pool = new pg.Pool({ connectionString: url, max: 10, ...(opts.clientName && { application_name: opts.clientName }) });
  // An idle pooled connection that Postgres ends (a restart) is reported on the pool: unheard, that error
  // would end the process. The pool drops the connection and the next query opens a new one.
  pool.on("error", () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (opts.migrate) await migrateToLatest(db, "postgres");
  const writeTransaction: WriteTransaction = (lockKey, fn) =>
    db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${lockKey}))`.execute(trx);
      return fn(trx);
    });
  const eventOrder: EventOrderLock = async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('quire:event-order'))`.execute(trx);
  };
  const readSnapshot: ReadSnapshot = (fn) => db.transaction().setIsolationLevel("repeatable read").setAccessMode("read only").execute(fn);
  return new SqlStore(db, writeTransaction, eventOrder, readSnapshot);
}

export type { SqlDialect };
