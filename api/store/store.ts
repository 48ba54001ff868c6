import type { RunBundle } from "./runBundle.js";
import type {
  AuditRecord,
  EventRecord,
  RunRecord,
  RunRequest,
  RunStatus,
  StageRunRecord,
  StageRunStatus,
  StepKey,
  StepOutputRecord,
} from "./records.js";

export type NewOutput = Omit<StepOutputRecord, "id" | "version" | "status" | "createdAt" | "supersededAt">;
export type NewAudit = Omit<AuditRecord, "id" | "createdAt">;
export interface AuditFilter {
  runId?: string;
  stageId?: string;
  stepId?: string;
  provider?: string;
  from?: string;
  to?: string;
  limit?: number;
  /** Entries with an id above this one (the next page). */
  afterId?: number;
}
export type NewEvent = Omit<EventRecord, "id" | "seq" | "at">;
/** An accepted output's event, whose percent may be worked out from the run's accepted step ids in the write's own transaction. */
export type AcceptedOutputEvent = Omit<NewEvent, "percent"> & { percent: number | ((acceptedStepIds: string[]) => number) };

/**
 * The one port in front of persistence, implemented once over Kysely (sqlStore.ts) for SQLite and
 * PostgreSQL (openStore.ts), over one set of migrations. Writes that belong together happen in one transaction.
 */
export interface Store {
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Runs `fn` with a store whose writes commit together or not at all, under the run's write lock: a
   * state change with its event, a rollback's writes. `fn` must use only the store it is given.
   */
  atomically<T>(runId: string, fn: (tx: Store) => Promise<T>): Promise<T>;

  createRun(run: { id: string; request: RunRequest; idempotencyKey?: string }): Promise<{ run: RunRecord; created: boolean }>;
  getRun(id: string): Promise<RunRecord | undefined>;
  countRunsByStatus(): Promise<Record<string, number>>;
  /** In id order, for going through every run (the run driver): `afterId` pages on. */
  listRuns(filter: { statuses?: RunStatus[]; category?: string; limit: number; afterId?: string }): Promise<RunRecord[]>;
  /** Newest first, as a client lists them: `before` (the last run of a page) pages on. */
  listRecentRuns(filter: { statuses?: RunStatus[]; category?: string; limit: number; before?: { createdAt: string; id: string } }): Promise<RunRecord[]>;
  /** Changes a run's fields only while its status is one of `from` (optimistic guard); true if it did. */
  updateRun(id: string, from: RunStatus[], patch: Partial<Pick<RunRecord, "status" | "currentStageId" | "error" | "completedAt">>): Promise<boolean>;

  /** Records a stage attempt (once: a repeat returns it); the run's earlier stage runs still open become `superseded`. */
  insertStageRun(stage: Pick<StageRunRecord, "runId" | "stageId" | "attempt" | "plannedSteps">): Promise<StageRunRecord>;
  /** Gives the run's stage runs that have not finished this final status (e.g. `cancelled` with the run). */
  endOpenStageRuns(runId: string, status: StageRunStatus): Promise<void>;
  updateStageRun(key: { runId: string; stageId: string; attempt: number }, patch: Partial<Omit<StageRunRecord, "runId" | "stageId" | "attempt">>): Promise<void>;
  listStageRuns(runId: string): Promise<StageRunRecord[]>;

  /** The accepted (not superseded) output of a step, from whichever attempt of its stage wrote it. */
  findAcceptedOutput(key: StepKey): Promise<StepOutputRecord | undefined>;
  /** Latest accepted output of each named step in the run (any attempt); superseded ones are ignored. */
  latestAcceptedOutputs(runId: string, stepIds: string[]): Promise<StepOutputRecord[]>;
  listOutputs(runId: string, filter: { stageId?: string; history: boolean }): Promise<StepOutputRecord[]>;
  /**
   * Records an accepted output with its audit entry and event in one transaction. When the step already
   * has an accepted output (a duplicate delivery), nothing is written and the existing one is returned.
   * When the result comes too late (the run is cancelling or cancelled, or a newer attempt of the stage
   * has started), only the audit entry is written, with outcome "abandoned", and `abandoned` says why.
   */
  acceptOutput(output: NewOutput, audit: NewAudit, event: AcceptedOutputEvent): Promise<{ output: StepOutputRecord; created: boolean } | { abandoned: string }>;
  /** Marks every accepted output of these stages superseded and appends the event, in one transaction. */
  supersedeStages(runId: string, stageIds: string[], event: NewEvent): Promise<number>;
  recordAudit(audit: NewAudit): Promise<void>;
  /** Audit entries, oldest first; by run, and optionally stage, step, provider and a time range (ISO). */
  listAudit(filter: AuditFilter): Promise<AuditRecord[]>;

  appendEvent(event: NewEvent): Promise<EventRecord>;

  /** The whole run as one document (null when there is no such run). */
  exportRun(runId: string): Promise<RunBundle | null>;
  /** Takes in a run exported elsewhere, in one transaction; false when a run with that id exists. */
  importRun(bundle: RunBundle): Promise<boolean>;
  listEvents(runId: string, afterSeq?: number): Promise<EventRecord[]>;
  /** Events of every run (or the runs of one category) with an id above `afterId`, oldest first. */
  listEventsAfter(afterId: number, filter: { category?: string; limit: number }): Promise<EventRecord[]>;
  /** The id of the newest event of any run (0 when there is none). */
  latestEventId(): Promise<number>;
}
