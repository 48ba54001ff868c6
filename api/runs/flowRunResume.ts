import type { Logger } from "pino";
import type { PrefectRuns } from "../prefect/prefectRuns.js";
import type { FlowLeases } from "./flowLeases.js";

/**
 * Resumes a stage's paused flow run. A pause pressed during a step suspends the flow run at once, but its
 * process finishes the step first: if that process still runs (its lease is held), the flow run is set
 * Running again and the process goes on; otherwise Prefect's resume reschedules it for a new process.
 */
export async function resumeFlowRun(deps: { prefect: PrefectRuns; leases?: FlowLeases; log: Logger }, flowRunId: string, runId: string): Promise<void> {
  if (await deps.leases?.held(flowRunId)) {
    if (await deps.prefect.unsuspend(flowRunId).catch(() => false)) return;
  }
  await deps.prefect.resume(flowRunId).catch((err) => deps.log.info({ runId, err: err.message }, "flow run was not paused; nothing to resume"));
}
