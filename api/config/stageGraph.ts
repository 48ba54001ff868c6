import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { InvalidConfig, NotFound } from "../errors.js";
import { outputSchemas } from "../../workers/outputSchemas.js";
import {
  type Guard,
  type OutputKind,
  type ProviderName,
  type StageLoop,
  StageGraphConfig,
  type StepSettings,
} from "./stageGraphSchema.js";

/** A step with every setting resolved (defaults < stage defaults < step). */
export interface StepDefinition {
  id: string;
  stageId: string;
  agent: string;
  output: OutputKind;
  instruction: string;
  reads: string[];
  provider: ProviderName;
  /** Undefined when the provider was set without a model: then the provider's default model is used. */
  model: string | undefined;
  temperature: number;
  maxTokens: number;
  timeoutSeconds: number;
  retries: number;
}

export interface StageDefinition {
  id: string;
  name: string;
  guard?: Guard;
  loop?: StageLoop;
  steps: StepDefinition[];
}

export interface StageGraph {
  stages: StageDefinition[];
}

/** A problem found in the config, with where it is. */
export interface ConfigProblem {
  path: (string | number)[];
  message: string;
}

/** Validate, then compile: the parsed YAML becomes a StageGraph or a list of problems naming the field. */
export function compileStageGraph(input: unknown): { graph: StageGraph } | { problems: ConfigProblem[] } {
  const parsed = StageGraphConfig.safeParse(input);
  if (!parsed.success) return { problems: parsed.error.issues.map(issueToProblem) };
  const config = parsed.data;
  const problems: ConfigProblem[] = [];
  const seenStages = new Set<string>();
  const seenSteps = new Set<string>();
  const outputKinds = new Map<string, OutputKind>();
  const stages: StageDefinition[] = config.stages.map((stage, si) => {
    if (seenStages.has(stage.id)) problems.push({ path: ["stages", si, "id"], message: `stage id "${stage.id}" is used twice` });
    seenStages.add(stage.id);
    const ownSteps = new Set(stage.steps.map((s) => s.id));
    const steps = stage.steps.map((step, pi): StepDefinition => {
      if (seenSteps.has(step.id)) problems.push({ path: ["stages", si, "steps", pi, "id"], message: `step id "${step.id}" is used twice` });
      step.reads.forEach((read, ri) => {
        // A step may read any step before it: earlier stages, or earlier in its own stage.
        if (!seenSteps.has(read)) {
          problems.push({ path: ["stages", si, "steps", pi, "reads", ri], message: `step "${step.id}" reads "${read}", which is not an earlier step` });
        }
      });
      seenSteps.add(step.id);
      outputKinds.set(step.id, step.output);
      const { id, agent, output, instruction, reads, ...own } = step;
      const model = configuredModel([config.defaults, stage.defaults ?? {}, own]);
      return { id, stageId: stage.id, agent, output, instruction, reads, ...config.defaults, ...stage.defaults, ...own, model };
    });
    if (stage.guard && (!seenSteps.has(stage.guard.step) || ownSteps.has(stage.guard.step))) {
      problems.push({ path: ["stages", si, "guard", "step"], message: `guard of "${stage.id}" names "${stage.guard.step}", which is not a step of an earlier stage` });
    } else if (stage.guard) {
      problems.push(...guardFieldProblems(stage.guard, outputKinds.get(stage.guard.step)!, ["stages", si, "guard"]));
    }
    if (stage.loop) {
      const from = stage.steps.findIndex((s) => s.id === stage.loop!.from);
      const to = stage.steps.findIndex((s) => s.id === stage.loop!.to);
      if (from < 0 || to < 0 || from > to) {
        problems.push({ path: ["stages", si, "loop"], message: `loop of "${stage.id}" must run from one of its steps to a later one` });
      } else if (stage.steps[to]!.output !== "review") {
        problems.push({ path: ["stages", si, "loop", "to"], message: `loop of "${stage.id}" must end on a step whose output is "review"` });
      } else if (!fieldAccepts("review", stage.loop.until, true)) {
        problems.push({ path: ["stages", si, "loop", "until"], message: `loop of "${stage.id}" runs until "${stage.loop.until}", which is not a true/false field of a review (${booleanFields("review").join(", ")})` });
      }
    }
    return { id: stage.id, name: stage.name, guard: stage.guard, loop: stage.loop, steps };
  });
  return problems.length ? { problems } : { graph: { stages } };
}

/**
 * A guard's `field` must be one of its step's output fields, and `equals` a value that field can hold: a
 * misspelt field would stop every book there with the guard's own (misleading) reason, and `equals` alone
 * was ignored, so the guard always passed.
 */
function guardFieldProblems(guard: Guard, kind: OutputKind, at: (string | number)[]): ConfigProblem[] {
  if (guard.field === undefined) {
    return guard.equals === undefined ? [] : [{ path: [...at, "equals"], message: `guard on "${guard.step}" has "equals" without the "field" it compares` }];
  }
  const fields = Object.keys(outputSchemas[kind].shape);
  if (!fields.includes(guard.field)) return [{ path: [...at, "field"], message: `"${guard.field}" is not a field of step "${guard.step}"'s ${kind} output (${fields.join(", ")})` }];
  if (guard.equals !== undefined && !fieldAccepts(kind, guard.field, guard.equals)) {
    return [{ path: [...at, "equals"], message: `field "${guard.field}" of a ${kind} output can never equal ${JSON.stringify(guard.equals)}` }];
  }
  return [];
}

function fieldAccepts(kind: OutputKind, field: string, value: unknown): boolean {
  const schema = (outputSchemas[kind].shape as Record<string, z.ZodType>)[field];
  return schema !== undefined && schema.safeParse(value).success;
}

const booleanFields = (kind: OutputKind) => Object.keys(outputSchemas[kind].shape).filter((f) => fieldAccepts(kind, f, true));

/**
 * The model a step's settings (lowest precedence first) give it. A model goes with the provider it was set
 * with: a level that switches the provider without naming a model drops the model set below it, so a
 * stage moved to OpenAI never sends the mock's model name to OpenAI.
 */
function configuredModel(levels: StepSettings[]): string | undefined {
  let provider: ProviderName | undefined;
  let model: string | undefined;
  for (const level of levels) {
    if (level.provider && level.provider !== provider && !level.model) model = undefined;
    provider = level.provider ?? provider;
    model = level.model ?? model;
  }
  return model;
}

function issueToProblem(issue: z.core.$ZodIssue): ConfigProblem {
  return { path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)), message: issue.message };
}

/** Reads the YAML file and compiles it; throws InvalidConfig whose message names file:line and field. */
export function loadStageGraph(file: string): StageGraph {
  const lineCounter = new LineCounter();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidConfig(`cannot read the stage graph ${file} (QUIRE_STAGES_FILE): ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length) {
    throw new InvalidConfig(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
  }
  const result = compileStageGraph(doc.toJS());
  if ("graph" in result) return result.graph;
  const lines = result.problems.map((p) => {
    const node = doc.getIn(p.path, true) as { range?: [number, number] } | undefined
      ?? doc.getIn(p.path.slice(0, -1), true) as { range?: [number, number] } | undefined;
    const where = node?.range ? `:${lineCounter.linePos(node.range[0]).line}` : "";
    return `${file}${where}: ${p.path.join(".") || "(root)"}: ${p.message}`;
  });
  throw new InvalidConfig(`${file} is not valid:\n  ${lines.join("\n  ")}`);
}

export function allSteps(graph: StageGraph): StepDefinition[] {
  return graph.stages.flatMap((s) => s.steps);
}

export function findStage(graph: StageGraph, stageId: string): StageDefinition | undefined {
  return graph.stages.find((s) => s.id === stageId);
}

/** The stage a client named: a 404 if there is none. */
export function requireStage(graph: StageGraph, stageId: string): StageDefinition {
  const stage = findStage(graph, stageId);
  if (!stage) throw new NotFound(`no stage with id ${stageId}; see GET /stages/defaults`);
  return stage;
}
