import type { Generated } from "kysely";

/** Table types for Kysely: the columns as stored (JSON as text, timestamps as ISO text). */
export interface Database {
  runs: {
    id: string;
    status: string;
    mode: string;
    category: string | null;
    request: string;
    current_stage_id: string | null;
    error: string | null;
    idempotency_key: string | null;
    created_at: string;
    updated_at: string;
    completed_at: string | null;
  };
  stage_runs: {
    run_id: string;
    stage_id: string;
    attempt: number;
    flow_run_id: string | null;
    status: string;
    planned_steps: number;
    created_at: string;
    started_at: string | null;
    ended_at: string | null;
  };
  step_outputs: {
    id: Generated<number>;
    run_id: string;
    stage_id: string;
    stage_attempt: number;
    step_id: string;
    iteration: number;
    version: number;
    status: string;
    content: string;
    provider: string;
    model: string;
    job_id: string;
    created_at: string;
    superseded_at: string | null;
  };
  audit_entries: {
    id: Generated<number>;
    run_id: string;
    stage_id: string;
    stage_attempt: number;
    step_id: string;
    iteration: number;
    job_id: string;
    attempt: number;
    provider: string;
    model: string;
    temperature: number;
    max_tokens: number;
    request: string;
    response: string | null;
    outcome: string;
    error: string | null;
    input_tokens: number | null;
    output_tokens: number | null;
    latency_ms: number;
    finish_reason: string | null;
    created_at: string;
  };
  events: {
    id: Generated<number>;
    run_id: string;
    seq: number;
    type: string;
    stage_id: string | null;
    step_id: string | null;
    status: string | null;
    percent: number;
    data: string | null;
    at: string;
  };
}
