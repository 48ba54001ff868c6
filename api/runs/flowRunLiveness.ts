import type { Logger } from "pino";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { FlowLeases } from "./flowLeases.js";

export interface FlowRunLivenessDeps {
  prefect: PrefectRuns;
  log: Logger;
  /** The leases flow processes renew while their flow's code runs (flowLeases.ts). */
  leases?: FlowLeases;
  /** A flow run Pending for longer than this has no process coming. */
  startGraceMs?: number;
}

/**
 * Prefect 2 has no liveness check of its own for flow runs: a flow process killed with its worker leaves
 * its flow run Pending, Running or Suspended with a Running task for ever. These checks find such runs
 * and say so in Prefect (Crashed), so that the run driver's handling of a crash follows.
 */
export class FlowRunLiveness {
  constructor(private readonly deps: FlowRunLivenessDeps) {}

  /** Marks a flow run Crashed when no process runs it or is coming for it; true if it did. */
  async crashIfDead(flowRun: FlowRunView, context: Record<string, unknown>): Promise<boolean> {
    const { prefect, log, leases } = this.deps;
    if (flowRun.stateType === "PENDING" && this.pendingTooLong(flowRun)) {
      // A worker sets Pending, then starts the process; if it dies in between (or the Prefect API is down
      // as the process starts), Prefect leaves the run Pending for ever.
      log.warn({ ...context, flowRunId: flowRun.id }, "flow run stayed Pending: no process is coming; marking it Crashed");
      await prefect.markCrashed(flowRun.id, "its process never started (its worker died, or the Prefect API was down, as it started it)");
      return true;
    }
    if (flowRun.stateType === "SCHEDULED" && !flowRun.workQueueId) {
      // Created while its deployment had no work pool (the pool was deleted in Prefect): no worker will
      // ever take it, and the book would stay running for ever.
      log.warn({ ...context, flowRunId: flowRun.id }, "flow run has no work queue: no worker will take it; marking it Crashed");
      await prefect.markCrashed(flowRun.id, "it has no work queue, so no worker would ever start it (its work pool was deleted in Prefect?): deploy run-stage again (npm start does), then resume");
      return true;
    }
    const gone = flowRun.stateType === "RUNNING" ? await leases?.gone(flowRun.id, flowRun.stateTimestamp) : null;
    if (gone) {
      log.warn({ ...context, flowRunId: flowRun.id, lease: gone }, "flow run's process is gone; marking it Crashed");
      await prefect.markCrashed(flowRun.id, gone === "stopped" ? "its flow process was stopped (SIGTERM: its worker or the stack stopping) before the flow ended" : "the flow process stopped renewing its lease (killed with its worker?)");
      return true;
    }
    return false;
  }

  /**
   * Whether a step of a suspended flow run is still being finished by its process. A task run left Running
   * by a process that died (killed with its worker) is not: its lease is gone, and it is marked Crashed.
   */
  async stepInFlight(flowRun: FlowRunView, context: Record<string, unknown>): Promise<boolean> {
    const running = (await this.deps.prefect.taskRunsOf(flowRun.id)).some((t) => t.stateType === "RUNNING");
    if (!running || (await this.deps.leases?.held(flowRun.id)) !== false) return running;
    this.deps.log.warn({ ...context, flowRunId: flowRun.id }, "a suspended flow run's process is gone mid-step; the pause takes effect");
    await this.tidyCrashed(flowRun, "its flow process stopped (killed with its worker?) while the flow run was suspended");
    return false;
  }

  /** A crashed flow run's task runs that were cut off would show Running in the Prefect UI for ever. Best effort. */
  async tidyCrashed(flowRun: FlowRunView, message = `its flow run crashed: ${flowRun.message ?? "no message"}`): Promise<void> {
    await this.deps.prefect.crashLeftoverTaskRuns(flowRun.id, message).catch((err) => this.deps.log.warn({ flowRunId: flowRun.id, err: (err as Error).message }, "could not mark the crashed flow run's task runs Crashed"));
  }

  private pendingTooLong(flowRun: FlowRunView): boolean {
    const { startGraceMs } = this.deps;
    return !!startGraceMs && !!flowRun.stateTimestamp && Date.now() - Date.parse(flowRun.stateTimestamp) > startGraceMs;
  }
}
