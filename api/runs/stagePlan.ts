import type { StageGraph } from "../config/stageGraph.js";
import type { ProviderName, StageLoop } from "../config/stageGraphSchema.js";
import type { RunRequest } from "../store/records.js";
import type { PlannedStep } from "../../workers/stepJob.js";

export interface ProviderDefaults {
  /** QUIRE_PROVIDER: beats the config file's provider, loses to the request's. */
  provider?: ProviderName;
  /** Model used when a step's provider differs from the one its config names and nobody set a model. */
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
  const stage = graph.stages.find((s) => s.id === stageId);
  if (!stage) throw new Error(`unknown stage ${stageId}`);
  const top = request.overrides ?? {};
  const own = top.stages?.[stageId] ?? {};
  const steps = stage.steps.map((step): PlannedStep => {
    const provider = own.provider ?? request.provider ?? env.provider ?? step.provider;
    const model = own.model ?? top.model ?? (provider === step.provider ? step.model : env.models[provider]);
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

/** Every provider a run would use, to check credentials before accepting it. */
export function providersOfRun(graph: StageGraph, request: RunRequest, env: ProviderDefaults): Set<ProviderName> {
  return new Set(request.stages.flatMap((id) => planStage(graph, request, id, env).steps.map((s) => s.provider)));
}
