import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

// The gateway's OpenAPI document names this schema; zod 4 gives a schema its methods when it is made.
extendZodWithOpenApi(z);

/**
 * The frontend's contract: one progress event. Exported as JSON Schema to docs/events.schema.json
 * (scripts/exportEventSchema.ts; a unit test fails when the file drifts) and explained in docs/events.md.
 */
export const progressEventTypes = [
  "run.queued",
  "run.started",
  "stage.started",
  "step.started",
  "step.heartbeat",
  "step.completed",
  "step.failed",
  "step.retrying",
  "stage.completed",
  "stage.failed",
  "step.cancelled",
  "run.pausing",
  "run.paused",
  "run.resumed",
  "run.cancelling",
  "run.cancelled",
  "run.rolled_back",
  "run.completed",
  "run.failed",
] as const;

export const ProgressEvent = z
  .object({
    id: z.number().int().positive().describe("Orders events across all runs; the SSE id of GET /events."),
    seq: z.number().int().positive().describe("1, 2, 3 ... within one run; the SSE id of GET /orchestrator/runs/{id}/events."),
    runId: z.string().describe("The book run."),
    at: z.iso.datetime().describe("When the event was recorded (UTC, ISO 8601)."),
    type: z.enum(progressEventTypes),
    stageId: z.string().optional().describe("Set on stage.* and step.* events."),
    stepId: z.string().optional().describe("Set on step.* events."),
    status: z.string().optional().describe("The run's (run.*), stage's (stage.*) or step's (step.*) status after the event."),
    percent: z.number().min(0).max(100).describe("Completed steps / planned steps of the run, 0-100, one decimal. Monotonic except after run.rolled_back."),
    data: z.record(z.string(), z.unknown()).optional().describe("Details: attempt, flowRunId, iteration, try, reason, by (gateway | prefect), toStage, latencyMs ..."),
  })
  .describe("One normalized progress event of a book run.");
export type ProgressEvent = z.infer<typeof ProgressEvent>;

export function progressEventJsonSchema(): Record<string, unknown> {
  return { $id: "https://quire.local/events.schema.json", title: "ProgressEvent", ...z.toJSONSchema(ProgressEvent) };
}
