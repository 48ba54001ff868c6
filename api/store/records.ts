import type { ProviderName } from "../config/stageGraphSchema.js";

/** Plain records the store hands out. Timestamps are ISO strings; JSON columns are parsed. */

export const runStatuses = ["queued", "running", "pausing", "paused", "cancelling", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof runStatuses)[number];
export type RunMode = "auto" | "manual";

export interface Idea {
  premise: string;
  title?: string;
  audience?: string;
  category?: string;
}

export interface StageOverride {
  provider?: ProviderName;
  model?: string;
  temperature?: number;
  maxTokens?: number;
}

/** What the client asked for, kept verbatim so a restart or a rollback plans the same way. */
export interface RunRequest {
  idea: Idea;
  stages: string[];
  provider?: ProviderName;
  overrides?: StageOverride & { stages?: Record<string, StageOverride> };
  mode: RunMode;
}

export interface RunRecord {
  id: string;
  status: RunStatus;
  mode: RunMode;
  category: string | null;
  request: RunRequest;
  currentStageId: string | null;
  error: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

/** `superseded`: a later stage attempt of the book started before this one finished (a resume, a rollback). */
export const stageRunStatuses = ["scheduled", "running", "paused", "completed", "failed", "cancelled", "superseded"] as const;
export type StageRunStatus = (typeof stageRunStatuses)[number];
/** A stage run in one of these has not finished; a book has at most one (its latest). */
export const openStageRunStatuses: StageRunStatus[] = ["scheduled", "running", "paused"];

export interface StageRunRecord {
  runId: string;
  stageId: string;
  attempt: number;
  flowRunId: string | null;
  status: StageRunStatus;
  plannedSteps: number;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export type OutputStatus = "accepted" | "superseded";

export interface StepOutputRecord {
  id: number;
  runId: string;
  stageId: string;
  stageAttempt: number;
  stepId: string;
  iteration: number;
  version: number;
  status: OutputStatus;
  content: Record<string, unknown>;
  provider: string;
  model: string;
  jobId: string;
  createdAt: string;
  supersededAt: string | null;
}

export const auditOutcomes = ["accepted", "rejected", "error", "abandoned"] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export interface AuditRecord {
  id: number;
  runId: string;
  stageId: string;
  stageAttempt: number;
  stepId: string;
  iteration: number;
  jobId: string;
  attempt: number;
  provider: string;
  model: string;
  temperature: number;
  maxTokens: number;
  request: unknown;
  response: unknown;
  outcome: AuditOutcome;
  error: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number;
  finishReason: string | null;
  createdAt: string;
}

export interface EventRecord {
  /** Orders events across runs (the id of the dashboards' SSE stream). */
  id: number;
  seq: number;
  runId: string;
  at: string;
  type: string;
  stageId?: string;
  stepId?: string;
  status?: string;
  percent: number;
  data?: Record<string, unknown>;
}

/** Identifies one step's work within a run (and loop iteration); at most one accepted output each. */
export interface StepKey {
  runId: string;
  stageId: string;
  stepId: string;
  iteration: number;
}
