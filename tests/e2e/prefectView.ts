import { inject } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";
import { call, helloWorld, midStructure, slowPremise, submitRun, waitForRun } from "./gatewayClient.js";

/** Tests read Prefect through the same generated client the gateway uses. */
export const prefect = () => new PrefectRuns(createPrefectClient(inject("prefectApiUrl")), "run-stage/quire");

export async function flowRunOf(runId: string, stageId: string) {
  const runs = await prefect().flowRunsTagged([`book:${runId}`, `stage:${stageId}`]);
  return runs.at(-1);
}

/** A two-stage book paused by the gateway in the middle of structure, and that stage's flow run. */
export async function pausedMidStructure(name: string) {
  const runId = await submitRun({ ...helloWorld(slowPremise(name)), stages: ["idea_intake", "structure"] });
  await waitForRun(runId, { until: midStructure });
  await call(`/orchestrator/runs/${runId}/pause`, { method: "POST" });
  await waitForRun(runId, { until: (r) => r.status === "paused" });
  return { runId, flowRun: (await flowRunOf(runId, "structure"))! };
}
