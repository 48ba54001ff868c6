import { z } from "zod";
import { ProviderName } from "../config/stageGraphSchema.js";
import { Category, ideaFields, overrideFields, StageIds } from "../runs/runRequestSchema.js";
import { progressEventTypes } from "../events/progressEvent.js";
import { auditOutcomes, runStatuses, stageRunStatuses } from "./records.js";

/**
 * A whole run as one JSON document (GET /orchestrator/runs/:id/export), which another installation
 * takes in with POST /orchestrator/import: the run, its stage runs, every output version, every audit
 * entry and every event. Every field the store writes is typed here, so a bad document is a 400 that
 * names the field, never a half-written run. Row ids and run ids inside the records are not read: the
 * importing store numbers its own rows under `run.id`.
 */
/**
 * Free-form JSON (an output's content, an audit entry's exchange, an event's data), nested at most 64 deep:
 * what Quire writes is a few levels deep, and a document nested thousands deep would overflow the stack
 * of the JSON.stringify that stores it (a 500 instead of a 400).
 */
const MAX_DEPTH = 64;
const shallow = (value: unknown) => nestingDepth(value, MAX_DEPTH) <= MAX_DEPTH;
const nested = `nested more than ${MAX_DEPTH} levels deep`;
const json = z.record(z.string(), z.unknown()).refine(shallow, nested);
const anyJson = z.unknown().refine(shallow, nested);
const modelName = z.string().max(200);
// Stored as UTC ISO text and compared as text (ordering, audit time ranges): any offset is made UTC here.
const timestamp = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());
// The columns are 32-bit integers: a larger number is the document's mistake (400), not the database's (500).
const int32 = 2_147_483_647;
const count = z.number().int().min(0).max(int32);
const ordinal = z.number().int().min(1).max(int32);

// Bounded as a submission is: an imported run's request feeds its prompts as much as a submitted one's.
const Override = z.object(overrideFields);

const BundledRun = z.object({
  // It appears in URLs, headers and pages: letters, digits and . _ : - only (this installation's are UUIDs).
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, "letters, digits and . _ : - only, at most 200"),
  status: z.enum(runStatuses),
  mode: z.enum(["auto", "manual"]),
  category: Category.nullish(),
  request: z.object({
    idea: z.object(ideaFields),
    stages: StageIds,
    provider: ProviderName.optional(),
    overrides: Override.extend({ stages: z.record(z.string(), Override).optional() }).optional(),
    mode: z.enum(["auto", "manual"]),
  }),
  currentStageId: z.string().nullish(),
  error: z.string().nullish(),
  createdAt: timestamp,
  completedAt: timestamp.nullish(),
});

const BundledStageRun = z.object({
  stageId: z.string(),
  attempt: ordinal,
  // A flow run of the exporting installation's Prefect: not imported (runImport.ts); its events still name it.
  flowRunId: z.uuid().nullable(),
  status: z.enum(stageRunStatuses),
  plannedSteps: count,
  createdAt: timestamp,
  startedAt: timestamp.nullable(),
  firstStepAt: timestamp.nullable().optional(), // written by earlier versions, never set; not kept
  endedAt: timestamp.nullable(),
});

const BundledOutput = z.object({
  stageId: z.string(),
  stageAttempt: ordinal,
  stepId: z.string(),
  iteration: ordinal,
  version: ordinal,
  status: z.enum(["accepted", "superseded"]),
  content: json,
  provider: ProviderName,
  model: modelName,
  jobId: z.string(),
  createdAt: timestamp,
  supersededAt: timestamp.nullable(),
});

const BundledAudit = z.object({
  stageId: z.string(),
  stageAttempt: ordinal,
  stepId: z.string(),
  iteration: ordinal,
  jobId: z.string(),
  attempt: ordinal,
  provider: ProviderName,
  model: modelName,
  temperature: z.number(),
  maxTokens: count,
  request: anyJson,
  response: anyJson,
  outcome: z.enum(auditOutcomes),
  error: z.string().nullable(),
  inputTokens: count.nullable(),
  outputTokens: count.nullable(),
  latencyMs: z.number().min(0).max(int32),
  finishReason: z.string().nullable(),
  createdAt: timestamp,
});

const BundledEvent = z.object({
  seq: ordinal,
  at: timestamp,
  type: z.enum(progressEventTypes),
  stageId: z.string().nullish(),
  stepId: z.string().nullish(),
  status: z.string().nullish(),
  percent: z.number().min(0).max(100),
  data: json.nullish(),
});

export const RunBundle = z.object({
  format: z.literal("quire-run/1"),
  exportedAt: timestamp,
  run: BundledRun,
  stageRuns: z.array(BundledStageRun),
  outputs: z.array(BundledOutput),
  audit: z.array(BundledAudit),
  events: z.array(BundledEvent),
});
export type RunBundle = z.infer<typeof RunBundle>;

/** How deep `value` nests (a scalar is 0), counted without recursion; stops counting past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const todo: [unknown, number][] = [[value, 0]];
  while (todo.length) {
    const [v, depth] = todo.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > limit) return depth + 1;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(v)) todo.push([child, depth + 1]);
  }
  return deepest;
}
