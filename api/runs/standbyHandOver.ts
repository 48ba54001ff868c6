import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { PrefectNotFound } from "../prefect/prefectAnswers.js";
import type { FlowRunView, PrefectRuns } from "../prefect/prefectRuns.js";
import type { FlowLeases } from "./flowLeases.js";
import { isStandbyTag, STANDBY_TAG, standbyTags, type StageAssignment, type StandbyFlowRuns } from "./standbyFlowRuns.js";
import { mustEndIdleWaiting, waitingRoom, type PoolOccupancy } from "./waitingFlowRunRule.js";

/** A stage's flow run as the launcher would create it: its name, parameters and tags in Prefect. */
export interface StageFlowRun {
  name: string;
  parameters: StageAssignment & Record<string, unknown>;
  tags: string[];
}

export interface StandbyHandOverDeps {
  standby: StandbyFlowRuns;
  prefect: PrefectRuns;
  leases?: FlowLeases;
  log: Logger;
  /** How many spares (waiting flow runs for any book) to keep; 0: none. */
  spares: number;
  /** How full the work pool is (its pause, its concurrency limits): waiting flow runs hold its slots. */
  occupancy?: () => Promise<PoolOccupancy>;
}

/**
 * The waiting flow run a stage was given. `describe` then names, tags and parameters it in Prefect as the
 * stage's own: the caller records the stage first, since the flow starts the stage's steps as soon as it
 * is given it, and the rename (one Prefect PATCH, slow under load) would let step events precede
 * `stage.started`.
 */
export interface HandedOver {
  flowRunId: string;
  describe(): Promise<void>;
}

/** What a waiting flow run is started with: the run-stage flow's parameters, told to wait for its stage. */
const waiting = (runId: string) => ({ runId, stageId: "", attempt: 0, steps: [], standby: true });

/**
 * Chooses which waiting flow run takes a stage, and keeps such runs coming: a book's own standby (started
 * while its previous stage ran) if it is up, else a spare that is up, else the book's standby still
 * starting; null when there is none (the launcher then creates a flow run). The chosen run is given the
 * stage over Redis, then renamed, retagged and given the stage's parameters in Prefect, as if it had been
 * created for it (the UI, and a rerun after a pause, see an ordinary stage flow run).
 */
export class StandbyHandOver {
  private toppingUp?: Promise<void>;
  private toppingUpAgain?: Promise<void>;

  constructor(private readonly deps: StandbyHandOverDeps) {}

  async handOver(runId: string, target: StageFlowRun): Promise<HandedOver | null> {
    const { standby } = this.deps;
    const { stageId, attempt } = target.parameters;
    // A repeat (the gateway stopped after the hand-over, before recording it) finds the same flow run.
    const handed = await standby.handedTo(runId, stageId, attempt);
    if (handed) return { flowRunId: handed, describe: async () => this.describe(await this.deps.prefect.readFlowRun(handed), target) };
    const ownId = await standby.take(runId).catch(() => null);
    const own = ownId ? await this.alive(ownId) : null;
    if (ownId && !own) await standby.dismissFlowRun(ownId).catch(() => undefined); // if it still waits, it ends
    if (own?.stateType === "RUNNING") return this.assign(own, target);
    const spare = await this.takeRunningSpare();
    void this.topUpSpares(); // whether one was there or not: the next stage to look finds one
    if (spare) {
      const given = await this.assign(spare, target);
      if (given?.flowRunId !== spare.id) await standby.addSpare(spare.id).catch(() => undefined); // not used: back in line
      if (given) {
        // The book keeps its own standby, still starting, for its next stage.
        if (own) await standby.remember(runId, own.id).catch(() => undefined);
        return given;
      }
    }
    return own ? this.assign(own, target) : null;
  }

  /**
   * Starts the book's next flow run now, to wait for its next stage; not when it already has one. Best
   * effort. `stillWanted` is asked once it is recorded: a book that finished or paused meanwhile (its
   * standby already dismissed) has it ended at once rather than left waiting until it expires.
   */
  async prepareStandby(runId: string, idempotencyKey: string, stillWanted: () => Promise<boolean> = async () => true): Promise<void> {
    const { standby, prefect, log } = this.deps;
    try {
      if (!(await this.waitingAllowed())) return;
      if (await standby.has(runId)) return; // kept from a stage that took a spare instead
      const flowRun = await prefect.createFlowRun({ name: `${runId.slice(0, 8)}-standby`, parameters: waiting(runId), tags: standbyTags(runId), idempotencyKey });
      await standby.remember(runId, flowRun.id);
      if (!(await stillWanted())) await standby.dismiss(runId);
    } catch (err) {
      log.warn({ runId, err: (err as Error).message }, "could not start a standby flow run; the next stage will start its own");
    }
  }

  /**
   * Starts spares until there are as many as configured. One top-up at a time; one asked for while
   * another runs (whose creations may be slow: Prefect retries under load) runs after it. Best effort.
   */
  topUpSpares(): Promise<void> {
    if (this.toppingUp) {
      this.toppingUpAgain ??= this.toppingUp.then(() => {
        this.toppingUpAgain = undefined;
        return this.topUpSpares();
      });
      return this.toppingUpAgain;
    }
    this.toppingUp = this.topUp().finally(() => (this.toppingUp = undefined));
    return this.toppingUp;
  }

  /**
   * Housekeeping, every few seconds: a waiting flow run whose process died (killed with its worker) would
   * stay Running in Prefect forever, since no stage follows it: it is marked Crashed. Spares that ended or
   * were claimed leave the line. The line is not topped up here but when a stage looks for a spare, so
   * an idle installation does not start a new spare every time the last one gives up waiting. In a work
   * pool whose limit is reached while a flow run waits for a slot (or paused), the idle ones end.
   */
  async sweep(): Promise<void> {
    const { prefect, leases, standby, log } = this.deps;
    const waitingOnes = await prefect.flowRunsTagged([STANDBY_TAG], ["RUNNING"]);
    if (leases) {
      for (const flowRun of waitingOnes) {
        const gone = await leases.gone(flowRun.id, flowRun.stateTimestamp);
        if (!gone) continue;
        // Stopped is what every waiting flow run says when its worker or the stack stops: expected, not alarming.
        log[gone === "stopped" ? "info" : "warn"]({ flowRunId: flowRun.id, lease: gone }, "standby flow run's process is gone; marking it Crashed");
        const why = gone === "stopped" ? "was stopped (SIGTERM) while it waited" : "stopped renewing its lease";
        await prefect.markCrashed(flowRun.id, `the standby flow process ${why}`).catch(() => undefined);
      }
    }
    // The pool unreadable (a deployment without a pool, whose spares would never start; Prefect busy):
    // the spares end; the books' own standbys are kept for their next stages.
    const ending = this.deps.occupancy ? await this.deps.occupancy().then((o) => (mustEndIdleWaiting(o) ? "all" : "none"), () => "spares") : "none";
    if (ending === "all") {
      log.info({ flowRuns: waitingOnes.map((f) => f.id) }, "the work pool is paused, or full with a flow run waiting for a slot; ending the idle waiting flow runs");
      for (const flowRun of waitingOnes) await standby.dismissFlowRun(flowRun.id).catch(() => undefined); // a taken one is refused
    }
    for (const id of await standby.spareIds()) {
      if (ending !== "none") {
        await standby.dismissFlowRun(id).catch(() => undefined);
        await standby.dropSpare(id);
      } else if (!(await this.alive(id))) await standby.dropSpare(id);
    }
  }

  /**
   * Whether a flow run may start now to wait for a stage: not while the pool cannot be read (Prefect
   * away, or a deployment without a work pool, whose flow runs would never start), nor while it would
   * take a slot a stage needs (waitingFlowRunRule.ts); each stage then starts its own.
   */
  private async waitingAllowed(): Promise<boolean> {
    return (await this.room()) >= 1;
  }

  /** How many flow runs may start now to wait (waitingFlowRunRule.ts); none while the pool cannot be read. */
  private async room(): Promise<number> {
    return this.deps.occupancy ? this.deps.occupancy().then(waitingRoom, () => 0) : Number.POSITIVE_INFINITY;
  }

  private async topUp(): Promise<void> {
    const { standby, prefect, log } = this.deps;
    try {
      // Counted once: the pool's occupancy is read at most every few seconds, so it would not see these yet.
      let room = await this.room();
      while (room-- >= 1 && (await standby.spareIds()).length < this.deps.spares) {
        const flowRun = await prefect.createFlowRun({ name: "spare", parameters: waiting(""), tags: [STANDBY_TAG], idempotencyKey: `spare:${randomUUID()}` });
        await standby.addSpare(flowRun.id);
      }
    } catch (err) {
      // `npm start` deploys run-stage while the gateway starts: until then there is nothing to start.
      if (err instanceof PrefectNotFound) log.info("no run-stage deployment yet; spares start when a stage next looks for one");
      else log.warn({ err: (err as Error).message }, "could not start a spare flow run; will try again");
    }
  }

  /** The oldest spare that is already running, taken out of the line (null: none is up); dead ones leave it. */
  private async takeRunningSpare(): Promise<FlowRunView | null> {
    const { standby } = this.deps;
    for (const id of await standby.spareIds().catch(() => [])) {
      const spare = await this.alive(id);
      if (!spare) await standby.dropSpare(id).catch(() => undefined);
      else if (spare.stateType === "RUNNING" && (await standby.takeSpareById(id).catch(() => false))) return spare;
    }
    return null;
  }

  /** The waiting flow run, if it can still take a stage: waiting in Prefect, its process alive, unclaimed. */
  private async alive(flowRunId: string): Promise<FlowRunView | null> {
    const { prefect, leases, standby, log } = this.deps;
    try {
      const flowRun = await prefect.readFlowRun(flowRunId);
      const waitingState = flowRun.stateType === "SCHEDULED" || flowRun.stateType === "PENDING" || flowRun.stateType === "RUNNING";
      if (!waitingState || (await standby.claimed(flowRunId))) return null;
      if (flowRun.stateType === "SCHEDULED" && !flowRun.workQueueId) return null; // no worker will ever start it
      if (flowRun.stateType === "RUNNING" && (await leases?.gone(flowRunId, flowRun.stateTimestamp))) return null;
      return flowRun;
    } catch (err) {
      log.warn({ flowRunId, err: (err as Error).message }, "waiting flow run not usable");
      return null;
    }
  }

  /** Gives the stage to the waiting flow run; null when it gave up waiting just now (then try another). */
  private async assign(flowRun: FlowRunView, target: StageFlowRun): Promise<HandedOver | null> {
    const { runId, stageId, attempt } = target.parameters;
    if (!(await this.deps.standby.assign(flowRun.id, target.parameters).catch(() => false))) {
      // Lost to another hand-over of the same stage attempt (two gateways at once): that one stands, and
      // its gateway describes it.
      const theirs = await this.deps.standby.handedTo(runId, stageId, attempt).catch(() => null);
      return theirs ? { flowRunId: theirs, describe: async () => undefined } : null;
    }
    return { flowRunId: flowRun.id, describe: () => this.describe(flowRun, target) };
  }

  /**
   * Names, tags and parameters the flow run in Prefect as the stage's own. Also called by the run driver
   * for a stage's flow run still tagged as waiting (the gateway stopped before the rename, or the rename
   * failed): a rerun after a pause would otherwise start it as a waiting flow run again.
   */
  async describe(flowRun: FlowRunView, target: StageFlowRun): Promise<void> {
    const tags = [...new Set([...target.tags, ...flowRun.tags.filter((t) => !isStandbyTag(t))])]; // keeps the deployment's tags
    await this.deps.prefect.updateFlowRun(flowRun.id, { ...target, tags }).catch((err) => this.deps.log.warn({ flowRunId: flowRun.id, err: err.message }, "could not rename the standby flow run"));
  }
}
