import type { FlowRunView } from "../prefect/prefectRuns.js";
import type { RunRecord } from "../store/records.js";
import type { DriveLocks } from "./driveLocks.js";
import type { OrphanSweep } from "./orphanSweep.js";
import { RunAdvancer, type RunAdvancerDeps } from "./runAdvancer.js";
import { drivenStatuses } from "./runStateMachine.js";
import type { StandbyHandOver } from "./standbyHandOver.js";

/** How often the driver tidies waiting flow runs (dead ones marked Crashed, dead spares out of the line) and orphans. */
const SWEEP_EVERY_MS = 10_000;
/** Runs driven per page of a pass (one Prefect read of their flow runs each). */
const PAGE = 200;

export interface RunDriverDeps extends RunAdvancerDeps {
  pollMs: number;
  /** Keeps two gateways from driving the same run at once (several gateways share the store). */
  locks?: DriveLocks;
  /** Waiting flow runs: swept now and then (api/runs/standbyHandOver.ts). */
  handOver?: StandbyHandOver;
  /** Flow runs the books left behind live in Prefect: swept now and then (api/runs/orphanSweep.ts). */
  orphans?: OrphanSweep;
}

/**
 * Drives every run that is not finished: a pass every `pollMs` (or at once when nudged) reads the current
 * flow runs from Prefect and has the RunAdvancer move each run on, under a lock when gateways share the
 * store. All its state lives in the store and in Prefect, so a restarted gateway picks up where the last
 * one stopped.
 */
export class RunDriver {
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private nudged = false;
  private lastSweep = 0;
  private readonly advancer: RunAdvancer;

  constructor(private readonly deps: RunDriverDeps) {
    this.advancer = new RunAdvancer(deps);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.deps.pollMs);
    void this.deps.handOver?.topUpSpares(); // so the first book's first stage finds a flow run already up
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Something happened that the driver should act on now rather than at the next poll (a flow run
   * finished, a run was submitted): runs a pass at once, or right after the one in progress.
   */
  nudge(): void {
    if (!this.timer) return; // not started, or stopping
    if (this.ticking) this.nudged = true;
    else void this.tick();
  }

  /** One pass over the driven runs; a pass never overlaps the previous one. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    this.nudged = false;
    try {
      if (Date.now() - this.lastSweep > SWEEP_EVERY_MS) {
        this.lastSweep = Date.now();
        await this.deps.handOver?.sweep().catch((err) => this.deps.log.warn({ err: (err as Error).message }, "standby sweep failed; will retry"));
        await this.deps.orphans?.sweep().catch((err) => this.deps.log.warn({ err: (err as Error).message }, "orphan flow run sweep failed; will retry"));
      }
      // Page by page, so that every driven run is reached however many there are.
      for (let afterId: string | undefined; ; ) {
        const runs = await this.deps.store.listRuns({ statuses: drivenStatuses, limit: PAGE, afterId });
        await this.drive(runs);
        if (runs.length < PAGE) break;
        afterId = runs.at(-1)!.id;
      }
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, "run driver pass failed");
    } finally {
      this.ticking = false;
      if (this.nudged) setImmediate(() => this.nudge());
    }
  }

  private async drive(runs: RunRecord[]): Promise<void> {
    const flowRuns = await this.currentFlowRuns(runs);
    for (const run of runs) {
      const locks = this.deps.locks;
      if (locks && !(await locks.acquire(run.id).catch(() => true))) continue; // another gateway drives it now
      try {
        // Read again under the lock: another gateway may have moved it on since the list was read.
        const fresh = locks ? await this.deps.store.getRun(run.id) : run;
        // The pass's Prefect read predates the lock: if a command changed the run since, read again.
        if (fresh && drivenStatuses.includes(fresh.status)) await this.advancer.advance(fresh, fresh.updatedAt === run.updatedAt ? flowRuns : new Map());
      } catch (err) {
        this.deps.log.warn({ runId: run.id, err: (err as Error).message }, "run driver could not advance run; will retry");
      } finally {
        await locks?.release(run.id).catch(() => undefined);
      }
    }
  }

  /**
   * The flow runs of the runs' current stages, read from Prefect in one call per pass (not one per run:
   * with many books, the reads of every pass were a good part of the Prefect server's work). Empty when
   * the read fails; then each run reads its own.
   */
  private async currentFlowRuns(runs: RunRecord[]): Promise<Map<string, FlowRunView>> {
    const ids: string[] = [];
    for (const run of runs) {
      const stage = (await this.deps.store.listStageRuns(run.id)).at(-1);
      if (stage?.flowRunId && stage.status !== "completed") ids.push(stage.flowRunId);
    }
    const views = ids.length ? await this.deps.prefect.readFlowRuns(ids).catch(() => []) : [];
    return new Map(views.map((v) => [v.id, v]));
  }
}
