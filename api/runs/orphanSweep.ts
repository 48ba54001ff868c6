import type { Logger } from "pino";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { Store } from "../store/store.js";
import type { FlowLeases } from "./flowLeases.js";
import { orphanFlowRuns } from "./orphanFlowRuns.js";
import { drivenStatuses } from "./runStateMachine.js";
import { bookOfTags } from "./stageLauncher.js";

/**
 * Housekeeping, every few seconds: ends the flow runs that books left behind live in Prefect
 * (orphanFlowRuns.ts). A suspended or not yet started one is cancelled; a running one is cancelled too
 * (its worker stops its process), or marked Crashed when its process is gone (no lease).
 */
export class OrphanSweep {
  constructor(private readonly deps: { store: Store; prefect: PrefectRuns; leases?: FlowLeases; log: Logger; graceMs: number }) {}

  async sweep(): Promise<void> {
    const { store, prefect, leases, log, graceMs } = this.deps;
    const live = await prefect.flowRunsTagged([], ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"]);
    const books = new Map<string, FlowRunView[]>();
    for (const flowRun of live) {
      const runId = bookOfTags(flowRun.tags);
      if (runId) books.set(runId, [...(books.get(runId) ?? []), flowRun]);
    }
    for (const [runId, mine] of books) {
      const run = await store.getRun(runId);
      if (!run) continue;
      const orphans = orphanFlowRuns(await store.listStageRuns(runId), !drivenStatuses.includes(run.status), mine, Date.now(), graceMs);
      for (const flowRun of orphans) {
        try {
          if (flowRun.stateType === "RUNNING" && (await leases?.lapsed(flowRun.id, flowRun.stateTimestamp))) {
            await prefect.markCrashed(flowRun.id, "its process is gone, and its book has moved on");
          } else {
            await prefect.cancel(flowRun.id);
          }
          log.warn({ runId, flowRunId: flowRun.id, name: flowRun.name, state: flowRun.stateType }, "ended a flow run its book left behind live in Prefect");
        } catch (err) {
          log.warn({ runId, flowRunId: flowRun.id, err: (err as Error).message }, "could not end a flow run its book left behind; will retry");
        }
      }
    }
  }
}
