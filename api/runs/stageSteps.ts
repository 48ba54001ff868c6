import type { StageLoop } from "../config/stageGraphSchema.js";
import type { StepOutputRecord } from "../store/records.js";

/** A stage as far as its steps' order goes: the step ids in order, and its loop if it has one. */
export interface StageShape {
  steps: { id: string }[];
  loop?: StageLoop;
}

/** True when `stepId` is the last step of its stage in the graph (its output may end the stage). */
export function isLastStepOfStage(stages: { id: string; steps: { id: string }[] }[], stageId: string, stepId: string): boolean {
  return stages.find((s) => s.id === stageId)?.steps.at(-1)?.id === stepId;
}

/**
 * True when the stage's flow run has no step left to run: every step has an accepted output and the
 * loop, if the stage has one, is over (its last review said `until`, or it ran `maxIterations` times).
 * The same rule as `next_step_index` in prefect-flows/run_stage.py, read from the outputs the agent
 * worker accepted, so the driver can start the next stage while Prefect is still recording this one's end.
 *
 * @param latest each step's latest accepted output (any attempt of the stage)
 */
export function stageStepsDone(stage: StageShape, latest: Pick<StepOutputRecord, "stepId" | "iteration" | "content">[]): boolean {
  const byStep = new Map(latest.map((o) => [o.stepId, o]));
  if (!stage.steps.every((s) => byStep.has(s.id))) return false;
  const loop = stage.loop;
  const last = stage.steps.at(-1)!.id;
  if (!loop || loop.to !== last) return true; // a loop that ends before the last step is over once the last step ran
  const review = byStep.get(last)!;
  return Boolean(review.content[loop.until]) || review.iteration >= loop.maxIterations;
}

/** The stage's step ids, in order, that have no accepted output in `latest`. */
export function stepsWithoutOutput(steps: { id: string }[], latest: Pick<StepOutputRecord, "stepId">[]): string[] {
  const done = new Set(latest.map((o) => o.stepId));
  return steps.map((s) => s.id).filter((id) => !done.has(id));
}
