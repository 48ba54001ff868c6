import { z } from "zod";

/**
 * A whole run as one JSON document (GET /orchestrator/runs/:id/export), which another installation
 * takes in with POST /orchestrator/import: the run, its stage runs, every output version, every audit
 * entry and every event.
 */
const record = z.record(z.string(), z.unknown());
export const RunBundle = z.object({
  format: z.literal("quire-run/1"),
  exportedAt: z.string(),
  run: z.object({ id: z.string().min(1), status: z.string(), mode: z.enum(["auto", "manual"]), request: record.and(z.object({ idea: z.object({ premise: z.string() }), stages: z.array(z.string()) })) }).passthrough(),
  stageRuns: z.array(z.object({ stageId: z.string(), attempt: z.number().int() }).passthrough()),
  outputs: z.array(z.object({ stepId: z.string(), version: z.number().int(), status: z.enum(["accepted", "superseded"]), content: record }).passthrough()),
  audit: z.array(z.object({ stepId: z.string(), outcome: z.string() }).passthrough()),
  events: z.array(z.object({ seq: z.number().int(), type: z.string() }).passthrough()),
});
export type RunBundle = z.infer<typeof RunBundle>;
