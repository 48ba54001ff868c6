import { inject } from "vitest";
import { createPrefectClient } from "../../api/prefect/client.js";
import { PrefectRuns } from "../../api/prefect/prefectRuns.js";

/** Tests read Prefect through the same generated client the gateway uses. */
export const prefect = () => new PrefectRuns(createPrefectClient(inject("prefectApiUrl")), "run-stage/quire");

export async function flowRunOf(runId: string, stageId: string) {
  const runs = await prefect().flowRunsTagged([`book:${runId}`, `stage:${stageId}`]);
  return runs.at(-1);
}
