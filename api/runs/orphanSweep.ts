import type { Logger } from "pino";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { Store } from "../store/store.js";
import type { FlowRunLiveness } from "./flowRunLiveness.js";
import { orphanFlowRuns } from "./orphanFlowRuns.js";
import { drivenStatuses } from "./runStateMachine.js";
import { bookOfTags } from "./stageLauncher.js";

/**
 * Housekeeping, every few seconds: ends the flow runs that books left behind live in Prefect
 * (orphanFlowRuns.ts). One whose process is gone (flowRunLiveness.ts) is marked Crashed; any other is
 * cancelled (a running one's worker stops its process).
 */
export class OrphanSweep {
  constructor(private readonly deps: { store: Store; prefect: PrefectRuns; liveness: FlowRunLiveness; log: Logger; graceMs: number }) {}

  async sweep(): Promise<void> {
    const { store, prefect, liveness, log, graceMs } = this.deps;
    const live = await prefect.flowRunsTagged([], ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"], { ownDeployment: true });
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
          if (!(await liveness.crashIfDead(flowRun, { runId, orphan: true }))) await prefect.cancel(flowRun.id);
          log.warn({ runId, flowRunId: flowRun.id, name: flowRun.name, state: flowRun.stateType }, "ended a flow run its book left behind live in Prefect");
        } catch (err) {
          log.warn({ runId, flowRunId: flowRun.id, err: (err as Error).message }, "could not end a flow run its book left behind; will retry");
        }
      }
    }
  }
}
