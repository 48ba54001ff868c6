import type { FlowRunView } from "../prefect/prefectRuns.js";
import { terminalStateTypes } from "../prefect/prefectRuns.js";
import type { StageRunRecord } from "../store/records.js";

/**
 * A book's flow runs that no longer belong to it but are still live in Prefect: each is recorded for one
 * of the book's stage attempts, but not for the one the book is at (a newer attempt or stage followed),
 * or the book has finished. Races between commands, kills and outages leave such runs behind: a flow run
 * suspended just as its stage completed early, a stage attempt replaced while its flow run was still
 * starting, a process killed while Prefect was down. Nothing else would ever end them. Only those whose
 * state is older than `graceMs`: a flow run that has just done its last step is still recording its end.
 */
export function orphanFlowRuns(stages: StageRunRecord[], bookFinished: boolean, flowRuns: FlowRunView[], now: number, graceMs: number): FlowRunView[] {
  const current = bookFinished ? undefined : stages.at(-1)?.flowRunId;
  const recorded = new Set(stages.map((s) => s.flowRunId).filter((id): id is string => !!id));
  return flowRuns.filter((fr) => {
    if (!recorded.has(fr.id) || fr.id === current) return false;
    if (!fr.stateType || terminalStateTypes.has(fr.stateType) || fr.stateType === "CANCELLING") return false;
    return !fr.stateTimestamp || now - Date.parse(fr.stateTimestamp) > graceMs;
  });
}
