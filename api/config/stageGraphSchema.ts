import { z } from "zod";

/** The shape of config/stages.yaml, before it is compiled into a StageGraph. */

export const providerNames = ["mock", "openai", "gemini"] as const;
export const ProviderName = z.enum(providerNames);
export type ProviderName = z.infer<typeof ProviderName>;
/**
 * A model name as providers spell them (gpt-4o-mini, ft:gpt-4o-mini:org::id, tunedModels/x): it goes into
 * Gemini's URL path, so nothing that could end or leave the path (# ? % and spaces, "..", "//").
 */
export const ModelName = z
  .string()
  .trim()
  .regex(/^(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,199}$/, 'a model name: letters, digits and . _ : @ + / - (at most 200), no ".." or "//"');

export const outputKinds = ["text", "list", "review", "titles"] as const;
export const OutputKind = z.enum(outputKinds);
export type OutputKind = z.infer<typeof OutputKind>;

const stepId = z.string().regex(/^[A-Z][A-Z0-9]{0,7}$/, "a step id is upper-case letters and digits, e.g. S1");
const stageId = z.string().regex(/^[a-z][a-z0-9_]{1,40}$/, "a stage id is lower_snake_case, e.g. fact_mapping");

export const StepSettings = z.strictObject({
  provider: ProviderName.optional(),
  model: ModelName.optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().max(200_000).optional(),
  timeoutSeconds: z.number().positive().max(3600).optional(),
  retries: z.number().int().min(0).max(10).optional(),
});
export type StepSettings = z.infer<typeof StepSettings>;

const StepConfig = StepSettings.extend({
  id: stepId,
  agent: z.string().min(1),
  output: OutputKind,
  instruction: z.string().min(1),
  reads: z.array(stepId).default([]),
});

const GuardConfig = z.strictObject({
  step: stepId,
  field: z.string().min(1).optional(),
  equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
  reason: z.string().min(1),
});
export type Guard = z.infer<typeof GuardConfig>;

const LoopConfig = z.strictObject({
  from: stepId,
  to: stepId,
  until: z.string().min(1),
  maxIterations: z.number().int().min(1).max(20),
});
export type StageLoop = z.infer<typeof LoopConfig>;

const StageConfig = z.strictObject({
  id: stageId,
  name: z.string().min(1),
  defaults: StepSettings.optional(),
  guard: GuardConfig.optional(),
  loop: LoopConfig.optional(),
  steps: z.array(StepConfig).min(1),
});

export const StageGraphConfig = z.strictObject({
  defaults: StepSettings.required(),
  stages: z.array(StageConfig).min(1),
});
export type StageGraphConfig = z.infer<typeof StageGraphConfig>;
