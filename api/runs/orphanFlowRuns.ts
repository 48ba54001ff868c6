import type { FlowRunView } from "../prefect/prefectRuns.js";
import { terminalStateTypes } from "../prefect/prefectRuns.js";
import type { StageRunRecord } from "../store/records.js";

/**
 * A book's flow runs that no longer belong to it but are still live in Prefect: each is recorded for one
 * of the book's stage attempts, but not for the one the book is at (a newer attempt or stage followed),
 * or the book has finished. Races between commands, kills and outages leave such runs behind: a flow run
 * suspended just as its stage completed early, a stage attempt replaced while its flow run was still
 * starting, a process killed while Prefect was down. Nothing else would ever end them. Only those whose
 * state, and whose stage's end, are older than `graceMs`: a flow run that has just done its last step is
 * still recording its end.
 */
export function orphanFlowRuns(stages: StageRunRecord[], bookFinished: boolean, flowRuns: FlowRunView[], now: number, graceMs: number): FlowRunView[] {
  const current = bookFinished ? undefined : stages.at(-1)?.flowRunId;
  const recorded = new Map(stages.filter((s) => s.flowRunId).map((s) => [s.flowRunId!, s]));
  return flowRuns.filter((fr) => {
    const stage = recorded.get(fr.id);
    if (!stage || fr.id === current) return false;
    if (!fr.stateType || terminalStateTypes.has(fr.stateType) || fr.stateType === "CANCELLING") return false;
    // Since its last state change, or since its stage ended (a stage ends when its last output is in, and
    // its flow run, Running since the stage began, records its end just after).
    const since = Math.max(fr.stateTimestamp ? Date.parse(fr.stateTimestamp) : 0, stage.endedAt ? Date.parse(stage.endedAt) : 0);
    return now - since > graceMs;
  });
}
