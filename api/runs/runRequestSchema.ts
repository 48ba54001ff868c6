import { z } from "zod";
import { ModelName, ProviderName } from "../config/stageGraphSchema.js";

/**
 * The limits of what a run's request may hold, shared by a submission (api/http/schemas.ts) and an
 * imported run (api/store/runBundle.ts): a run is bounded however it came in. Its prompts, outputs,
 * audit entries and events grow with what it holds.
 */
export const Category = z.string().trim().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "category is lower-case letters, digits and dashes");

export const ideaFields = {
  premise: z.string().trim().min(1, "premise must not be empty").max(5000),
  title: z.string().trim().min(1).max(300).optional(),
  audience: z.string().trim().min(1).max(500).optional(),
  category: Category.optional(),
};

export const overrideFields = {
  provider: ProviderName.optional(),
  model: ModelName.optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().max(200_000).optional(),
};

/** A run's stages (each checked against the stage graph where the request is taken in). */
export const StageIds = z.array(z.string().max(100)).min(1).max(100);
