import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import type { Stack } from "../stack/stack.js";
import { percentile } from "./stats.js";

/**
 * Per-step dispatch overhead of one finished run: Prefect task start → agent worker start (the job's
 * trip through Redis), and step.completed in the worker → Prefect task end (the result's trip back).
 */
export async function dispatchOverhead(stack: Stack, runId: string) {
  const prefect = new PrefectRuns(createPrefectClient(stack.prefectApiUrl), "run-stage/quire");
  const { events } = (await (await fetch(`${stack.gatewayUrl}/orchestrator/runs/${runId}/events`, { headers: stack.gatewayHeaders })).json()) as { events: any[] };
  const toWorker: number[] = [];
  const back: number[] = [];
  for (const flowRun of await prefect.flowRunsTagged([`book:${runId}`])) {
    for (const task of await prefect.taskRunsOf(flowRun.id)) {
      const started = events.find((e) => e.type === "step.started" && e.stepId === task.name);
      const completed = events.find((e) => e.type === "step.completed" && e.stepId === task.name);
      if (task.startTime && started) toWorker.push(Date.parse(started.at) - Date.parse(task.startTime));
      if (task.endTime && completed) back.push(Date.parse(task.endTime) - Date.parse(completed.at));
    }
  }
  return { toWorkerP50: percentile(toWorker, 50), toWorkerP95: percentile(toWorker, 95), backP50: percentile(back, 50), backP95: percentile(back, 95) };
}
