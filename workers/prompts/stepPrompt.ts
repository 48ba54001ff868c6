import type { Idea, StepOutputRecord } from "../../api/store/records.js";
import type { StepJobData } from "../stepJob.js";

/**
 * Builds the system and user prompt of a step from the idea, the step's instruction and the outputs it
 * reads. One template for every step: a stage or step added in config/stages.yaml needs no code here.
 */
export function buildStepPrompt(job: StepJobData, idea: Idea, inputs: StepOutputRecord[]): { system: string; prompt: string } {
  const system = [
    `You are the "${job.agent}" agent in a team writing a non-fiction book.`,
    `Answer with one JSON object of the kind "${job.output}" and nothing else.`,
  ].join(" ");
  const ideaLines = [
    `Premise: ${idea.premise}`,
    idea.title && `Working title: ${idea.title}`,
    idea.audience && `Audience: ${idea.audience}`,
    idea.category && `Category: ${idea.category}`,
  ].filter(Boolean);
  const inputBlocks = inputs.map((o) => `### ${o.stepId} (v${o.version})\n${JSON.stringify(o.content, null, 2)}`);
  return {
    system,
    prompt: [`## The book`, ...ideaLines, "", `## Your task (${job.stepId})`, job.instruction, ...(inputBlocks.length ? ["", "## Earlier work", ...inputBlocks] : [])].join("\n"),
  };
}
