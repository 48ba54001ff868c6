import type { RunBundle } from "./runBundle.js";
import type { Store } from "./store.js";

/** The whole run as one document, read through `tx` (a store inside one transaction: a snapshot); null when there is no such run. */
export async function exportRunFrom(tx: Store, runId: string): Promise<RunBundle | null> {
  const run = await tx.getRun(runId);
  if (!run) return null;
  const stageRuns = await tx.listStageRuns(runId);
  // The store writes only known providers (stageGraphSchema.ts) and the contract's event types (progressEvent.ts).
  const outputs = (await tx.listOutputs(runId, { history: true })) as RunBundle["outputs"];
  const audit = (await tx.listAudit({ runId, limit: Number.MAX_SAFE_INTEGER })) as RunBundle["audit"];
  const events = (await tx.listEvents(runId)) as RunBundle["events"];
  return { format: "quire-run/1", exportedAt: new Date().toISOString(), run, stageRuns, outputs, audit, events };
}
