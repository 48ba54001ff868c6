import { z } from "zod";
import { OutputKind, ProviderName } from "../api/config/stageGraphSchema.js";

/** A step's settings as the gateway plans them into the flow run's parameters (api/runs/stagePlan.ts). */
export const PlannedStep = z.object({
  stepId: z.string(),
  agent: z.string(),
  output: OutputKind,
  instruction: z.string(),
  inputs: z.array(z.string()),
  provider: ProviderName,
  model: z.string(),
  temperature: z.number(),
  maxTokens: z.number().int(),
  timeoutSeconds: z.number(),
  retries: z.number().int(),
});
export type PlannedStep = z.infer<typeof PlannedStep>;

/** The job the run-stage flow puts on Redis for one step: the planned step plus where it belongs. */
export const StepJobData = PlannedStep.extend({
  runId: z.string(),
  stageId: z.string(),
  stageAttempt: z.number().int().min(1),
  iteration: z.number().int().min(1),
  try: z.number().int().min(1),
});
export type StepJobData = z.infer<typeof StepJobData>;

/** What the worker answers; the flow reads `content` to decide loops. */
export interface StepJobResult {
  outputId: number;
  version: number;
  content: Record<string, unknown>;
  reused: boolean;
}
