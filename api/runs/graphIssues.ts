import type { StageGraph } from "../config/stageGraph.js";
import type { Issue } from "../errors.js";
import type { RunBundle } from "../store/runBundle.js";

/** What is wrong with a run's stage list (and its per-stage overrides) against the stage graph. */
export function stageListIssues(graph: StageGraph, stages: string[], overridden: string[], at: string[] = []): Issue[] {
  const known = new Set(graph.stages.map((s) => s.id));
  const path = (...p: (string | number)[]) => [...at, ...p].join(".");
  const issues = stages.flatMap((id, i) => (known.has(id) ? [] : [{ path: path("stages", i), message: `unknown stage "${id}"; known: ${[...known].join(", ")}` }]));
  for (const id of overridden) if (!known.has(id)) issues.push({ path: path("overrides", "stages", id), message: `unknown stage "${id}"` });
  if (new Set(stages).size !== stages.length) issues.push({ path: path("stages"), message: "a stage is listed twice" });
  // Stages run in the graph's order whatever the list says; a rollback reads the list, so it must agree.
  const inOrder = graph.stages.map((s) => s.id).filter((id) => stages.includes(id));
  if (!issues.length && inOrder.some((id, i) => stages[i] !== id)) issues.push({ path: path("stages"), message: `stages run in the graph's order: list them as ${inOrder.join(", ")}` });
  return issues;
}

/**
 * What keeps an exported run from fitting this installation (POST /orchestrator/import): stages and steps
 * its stage graph does not have (in outputs, audit entries and events alike), and records the store's keys allow only once (a stage attempt, a step's
 * version, one accepted output per step and loop iteration, an event seq). Empty when the run fits.
 */
export function bundleIssues(bundle: RunBundle, graph: StageGraph): Issue[] {
  const { run } = bundle;
  const issues = stageListIssues(graph, run.request.stages, Object.keys(run.request.overrides?.stages ?? {}), ["run", "request"]);
  const planned = new Set(run.request.stages);
  const stepsOf = new Map(graph.stages.map((s) => [s.id, new Set(s.steps.map((step) => step.id))]));
  const add = (path: (string | number)[], message: string) => issues.push({ path: path.join("."), message });
  const onceEach = <T>(records: T[], where: string, key: (r: T) => string | null, what: string) => {
    const seen = new Set<string>();
    records.forEach((r, i) => {
      const k = key(r);
      if (k === null) return;
      if (seen.has(k)) add([where, i], `a second ${what}`);
      seen.add(k);
    });
  };
  const stepOfRun = (where: string, i: number, stageId: string, stepId: string) => {
    if (!planned.has(stageId)) add([where, i, "stageId"], `"${stageId}" is not one of the run's stages`);
    else if (!stepsOf.get(stageId)?.has(stepId)) add([where, i, "stepId"], `"${stepId}" is not a step of stage "${stageId}" here`);
  };

  if (run.currentStageId && !planned.has(run.currentStageId)) add(["run", "currentStageId"], `"${run.currentStageId}" is not one of the run's stages`);
  bundle.stageRuns.forEach((s, i) => planned.has(s.stageId) || add(["stageRuns", i, "stageId"], `"${s.stageId}" is not one of the run's stages`));
  bundle.outputs.forEach((o, i) => stepOfRun("outputs", i, o.stageId, o.stepId));
  bundle.audit.forEach((a, i) => stepOfRun("audit", i, a.stageId, a.stepId));
  bundle.events.forEach((e, i) => {
    if (e.stageId && e.stepId) stepOfRun("events", i, e.stageId, e.stepId);
    else if (e.stageId && !planned.has(e.stageId)) add(["events", i, "stageId"], `"${e.stageId}" is not one of the run's stages`);
    else if (!e.stageId && e.stepId) add(["events", i, "stepId"], "a step without its stage");
  });
  onceEach(bundle.stageRuns, "stageRuns", (s) => `${s.stageId} ${s.attempt}`, "stage run with this stage and attempt");
  onceEach(bundle.outputs, "outputs", (o) => `${o.stepId} ${o.version}`, "output of this step with this version");
  onceEach(bundle.outputs, "outputs", (o) => (o.status === "accepted" ? `${o.stageId} ${o.stepId} ${o.iteration}` : null), "accepted output of this step and iteration");
  onceEach(bundle.events, "events", (e) => String(e.seq), "event with this seq");
  return issues;
}
