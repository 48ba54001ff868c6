import { findStage, type StageGraph, type StepDefinition } from "../config/stageGraph.js";
import type { ProviderName, StageLoop } from "../config/stageGraphSchema.js";
import type { RunRequest } from "../store/records.js";
import type { PlannedStep } from "../../workers/stepJob.js";

export interface ProviderDefaults {
  /** QUIRE_PROVIDER: beats the config file's provider, loses to the request's. */
  provider?: ProviderName;
  /** A provider's model when nobody set one for it (the request, or the config file with that provider). */
  models: Record<ProviderName, string>;
}

export interface StagePlan {
  stageId: string;
  steps: PlannedStep[];
  loop?: StageLoop;
}

/**
 * The settings each step of a stage runs with. Precedence, highest first: the request's override for
 * this stage > the request's top-level provider/overrides > the environment > config/stages.yaml.
 * Pure: the same request and graph always give the same plan (so a restart or resume plans the same).
 */
export function planStage(graph: StageGraph, request: RunRequest, stageId: string, env: ProviderDefaults): StagePlan {
  const stage = findStage(graph, stageId);
  if (!stage) throw new Error(`unknown stage ${stageId}`);
  const top = request.overrides ?? {};
  const own = top.stages?.[stageId] ?? {};
  // `overrides.provider` says what the top-level `provider` says. A model goes with the provider it was
  // given with: a stage sent to another provider does not inherit the top-level model.
  const topProvider = top.provider ?? request.provider;
  const asked = { provider: own.provider ?? topProvider, model: own.model ?? (own.provider && own.provider !== topProvider ? undefined : top.model) };
  const steps = stage.steps.map((step): PlannedStep => {
    const { provider, model } = providerAndModel(step, env, asked);
    return {
      stepId: step.id,
      agent: step.agent,
      output: step.output,
      instruction: step.instruction,
      inputs: step.reads,
      provider,
      model,
      temperature: own.temperature ?? top.temperature ?? step.temperature,
      maxTokens: own.maxTokens ?? top.maxTokens ?? step.maxTokens,
      timeoutSeconds: step.timeoutSeconds,
      retries: step.retries,
    };
  });
  return { stageId, steps, ...(stage.loop ? { loop: stage.loop } : {}) };
}

/**
 * A step's provider and model: what the request asks for, else QUIRE_PROVIDER, else the config file. The
 * config file's model is used only with the config file's provider; otherwise the provider's default model.
 */
export function providerAndModel(step: StepDefinition, env: ProviderDefaults, asked: { provider?: ProviderName; model?: string } = {}): { provider: ProviderName; model: string } {
  const provider = asked.provider ?? env.provider ?? step.provider;
  const model = asked.model ?? (provider === step.provider && step.model ? step.model : env.models[provider]);
  return { provider, model };
}

/** Every provider a run would use, to check credentials before accepting it. */
export function providersOfRun(graph: StageGraph, request: RunRequest, env: ProviderDefaults): Set<ProviderName> {
  return new Set(request.stages.flatMap((id) => planStage(graph, request, id, env).steps.map((s) => s.provider)));
}
