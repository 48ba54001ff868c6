import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { ProgressEvent } from "../events/progressEvent.js";
import type { runView } from "../runs/runView.js";
import { auditOutcomes, runStatuses, stageRunStatuses } from "../store/records.js";

extendZodWithOpenApi(z);

/**
 * What the gateway answers, for the OpenAPI document. Strict objects: the e2e contract test parses live
 * answers with them, so a field added to an answer and not here fails it.
 */

const Links = z.record(z.string(), z.string());

const StageAttempt = z.strictObject({
  stageId: z.string(),
  attempt: z.number().int(),
  status: z.enum(stageRunStatuses),
  current: z.boolean().describe("The stage's latest attempt: what the stage is now."),
  plannedSteps: z.number().int(),
  completedSteps: z.number().int().describe("The stage's steps with an accepted output once this attempt ended (reused ones included, a loop's repeats once)."),
  flowRunId: z.string().nullable(),
  prefectUrl: z.string().nullable(),
  createdAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

const StepSettings = z.strictObject({ stepId: z.string(), provider: z.string(), model: z.string(), temperature: z.number(), maxTokens: z.number().int() });

export const RunView = z
  .strictObject({
    runId: z.string(),
    status: z.enum(runStatuses),
    mode: z.enum(["auto", "manual"]),
    category: z.string().nullable(),
    idea: z.strictObject({ premise: z.string(), title: z.string().optional(), audience: z.string().optional(), category: z.string().optional() }),
    currentStage: z.string().nullable(),
    currentStep: z.string().nullable().describe("The next step of the current stage without an output; null at a boundary or the end."),
    percent: z.number(),
    completedSteps: z.number().int(),
    plannedSteps: z.number().int(),
    error: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    completedAt: z.string().nullable(),
    stages: z.array(StageAttempt),
    settings: z.record(z.string(), z.array(StepSettings)),
    links: Links,
  })
  .openapi("RunView");
// The projection and this schema say the same (its fields, each assignable): compiling fails when they part.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type View = ReturnType<typeof runView>;
const runViewMatches: [View extends z.infer<typeof RunView> ? true : false, SameKeys<View, z.infer<typeof RunView>>, SameKeys<View["stages"][number], z.infer<typeof StageAttempt>>] = [true, true, true];
void runViewMatches;

export const RunListPage = z
  .strictObject({
    runs: z.array(
      z.strictObject({
        runId: z.string(),
        status: z.enum(runStatuses),
        mode: z.enum(["auto", "manual"]),
        category: z.string().nullable(),
        premise: z.string(),
        title: z.string().nullable(),
        currentStage: z.string().nullable(),
        createdAt: z.string(),
        updatedAt: z.string(),
      }),
    ),
    nextCursor: z.string().nullable().describe("Pass back as ?cursor= for the next page (newest first); null on the last."),
  })
  .openapi("RunListPage");

/** What an output and an audit entry both say of the step they belong to. */
const ofStep = {
  id: z.number().int(),
  runId: z.string(),
  stageId: z.string(),
  stageAttempt: z.number().int(),
  stepId: z.string(),
  iteration: z.number().int(),
  jobId: z.string(),
  provider: z.string(),
  model: z.string(),
  createdAt: z.string(),
};

const Output = z.strictObject({
  ...ofStep,
  version: z.number().int(),
  status: z.enum(["accepted", "superseded"]),
  content: z.record(z.string(), z.unknown()),
  supersededAt: z.string().nullable(),
  supersededBy: z.strictObject({ id: z.number().int(), version: z.number().int(), stageAttempt: z.number().int() }).nullable().optional(),
});

export const OutputsPage = z
  .strictObject({ runId: z.string(), stageId: z.string().optional(), history: z.boolean(), outputs: z.array(Output) })
  .openapi("OutputsPage");

const AuditEntry = z.strictObject({
  ...ofStep,
  attempt: z.number().int(),
  temperature: z.number(),
  maxTokens: z.number().int(),
  request: z.unknown(),
  response: z.unknown(),
  outcome: z.enum(auditOutcomes),
  error: z.string().nullable(),
  inputTokens: z.number().int().nullable(),
  outputTokens: z.number().int().nullable(),
  latencyMs: z.number(),
  finishReason: z.string().nullable(),
});

export const AuditPage = z
  .strictObject({ runId: z.string().optional(), entries: z.array(AuditEntry), nextAfterId: z.number().int().optional().describe("Present on a full page: pass back as ?afterId=.") })
  .openapi("AuditPage");

export { ProgressEvent };
export const EventsPage = z.strictObject({ runId: z.string().optional(), events: z.array(ProgressEvent) }).openapi("EventsPage");

export const HealthReport = z
  .strictObject({ status: z.enum(["ok", "unavailable"]), checks: z.record(z.string(), z.string().describe('"ok", or what is wrong')) })
  .openapi("HealthReport");

export const Imported = z.strictObject({ runId: z.string(), links: Links }).openapi("Imported");
