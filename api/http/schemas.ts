import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ProviderName } from "../config/stageGraphSchema.js";
import { Category, ideaFields, overrideFields, StageIds } from "../runs/runRequestSchema.js";
import { runStatuses } from "../store/records.js";

extendZodWithOpenApi(z);

/** Request bodies and query strings of the HTTP contract; the OpenAPI document is generated from them. */

const StageOverride = z.strictObject(overrideFields);

export const RunSubmission = z
  .strictObject({
    idea: z.strictObject(ideaFields),
    stages: StageIds.optional().openapi({ description: "Stage ids to run, in graph order; default all." }),
    provider: ProviderName.optional(),
    overrides: StageOverride.extend({ stages: z.record(z.string(), StageOverride).optional() }).optional(),
    mode: z.enum(["auto", "manual"]).default("auto"),
    idempotencyKey: z.string().trim().min(1).max(200).optional(),
  })
  .openapi("RunSubmission");
export type RunSubmission = z.infer<typeof RunSubmission>;

export const RunListQuery = z.strictObject({
  status: z.enum(runStatuses).optional(),
  category: Category.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
});

export const HistoryQuery = z.strictObject({ history: z.enum(["true", "false"]).default("false") });

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .openapi("Error");

export const RunAccepted = z
  .object({ runId: z.string(), status: z.enum(runStatuses), links: z.record(z.string(), z.string()) })
  .openapi("RunAccepted");

/** pause, resume, cancel and advance take no body (an empty object is fine). */
export const EmptyCommandBody = z.strictObject({});

export const RollbackBody = z.strictObject({ toStage: z.string().min(1) }).openapi("RollbackBody");

/** Audit queries: every filter optional; `from`/`to` are ISO timestamps (to is exclusive). */
export const AuditQuery = z.strictObject({
  stageId: z.string().optional(),
  stepId: z.string().optional(),
  provider: ProviderName.optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** The next page: entries after this id (the answer's `nextAfterId` when a page was full). */
  afterId: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export const GlobalAuditQuery = AuditQuery.extend({ runId: z.string().optional() });

/** A resume point (sseStream.ts reads it, with the Last-Event-ID header); strict, so a misspelt one is refused, not read as "from the start". */
export const RunEventsQuery = z.strictObject({ lastEventId: z.string().optional() });
export const EventsQuery = RunEventsQuery.extend({ category: Category.optional() });
