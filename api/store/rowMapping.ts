import type { Selectable } from "kysely";
import type { AuditRecord, EventRecord, RunRecord, StageRunRecord, StepOutputRecord } from "./records.js";
import type { Database } from "./schema.js";

/** Row → record conversions shared by every store implementation. */

export const toRun = (r: Selectable<Database["runs"]>): RunRecord => ({
  id: r.id,
  status: r.status as RunRecord["status"],
  mode: r.mode as RunRecord["mode"],
  category: r.category,
  request: JSON.parse(r.request),
  currentStageId: r.current_stage_id,
  error: r.error,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  completedAt: r.completed_at,
});

export const toStageRun = (r: Selectable<Database["stage_runs"]>): StageRunRecord => ({
  runId: r.run_id,
  stageId: r.stage_id,
  attempt: Number(r.attempt),
  flowRunId: r.flow_run_id,
  status: r.status as StageRunRecord["status"],
  plannedSteps: Number(r.planned_steps),
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
});

export const toOutput = (r: Selectable<Database["step_outputs"]>): StepOutputRecord => ({
  id: Number(r.id),
  runId: r.run_id,
  stageId: r.stage_id,
  stageAttempt: Number(r.stage_attempt),
  stepId: r.step_id,
  iteration: Number(r.iteration),
  version: Number(r.version),
  status: r.status as StepOutputRecord["status"],
  content: JSON.parse(r.content),
  provider: r.provider,
  model: r.model,
  jobId: r.job_id,
  createdAt: r.created_at,
  supersededAt: r.superseded_at,
});

export const toAudit = (r: Selectable<Database["audit_entries"]>): AuditRecord => ({
  id: Number(r.id),
  runId: r.run_id,
  stageId: r.stage_id,
  stageAttempt: Number(r.stage_attempt),
  stepId: r.step_id,
  iteration: Number(r.iteration),
  jobId: r.job_id,
  attempt: Number(r.attempt),
  provider: r.provider,
  model: r.model,
  temperature: Number(r.temperature),
  maxTokens: Number(r.max_tokens),
  request: JSON.parse(r.request),
  response: r.response === null ? null : JSON.parse(r.response),
  outcome: r.outcome as AuditRecord["outcome"],
  error: r.error,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  latencyMs: Number(r.latency_ms),
  finishReason: r.finish_reason,
  createdAt: r.created_at,
});

export const toEvent = (r: Selectable<Database["events"]>): EventRecord => ({
  id: Number(r.id),
  seq: Number(r.seq),
  runId: r.run_id,
  at: r.at,
  type: r.type,
  ...(r.stage_id ? { stageId: r.stage_id } : {}),
  ...(r.step_id ? { stepId: r.step_id } : {}),
  ...(r.status ? { status: r.status } : {}),
  percent: Number(r.percent),
  ...(r.data ? { data: JSON.parse(r.data) } : {}),
});
