import type { Logger } from "pino";
import { requireStage, type StageGraph } from "../config/stageGraph.js";
import { Conflict, isRedisUnreachable, NotFound, Unavailable } from "../errors.js";
import { terminalStateTypes, type PrefectRuns } from "../prefect/prefectRuns.js";
import type { RunRecord, StageRunRecord } from "../store/records.js";
import type { Store } from "../store/store.js";
import { evaluateGuard, nextStage } from "./guards.js";
import type { HoldFlags } from "./holdFlags.js";
import { percentComplete, plannedStepIds } from "./progress.js";
import { resumeFlowRun } from "./flowRunResume.js";
import { updateRunWithEvent } from "./runEvents.js";
import { decide, type RunCommand, type RunEffect, type RunFacts } from "./runStateMachine.js";
import type { DriveLocks } from "./driveLocks.js";
import type { FlowLeases } from "./flowLeases.js";
import type { StageLauncher } from "./stageLauncher.js";
import type { StandbyFlowRuns } from "./standbyFlowRuns.js";

export interface RunControlDeps {
  store: Store;
  prefect: PrefectRuns;
  holds: HoldFlags;
  graph: StageGraph;
  launcher: StageLauncher;
  log: Logger;
  /** Tells agent workers to abort provider calls of a cancelled run. */
  announceCancel: (runId: string) => Promise<void>;
  /** The run driver's locks: a command is applied whole before the driver looks at the run again. */
  locks?: DriveLocks;
  /** Whether a flow process still runs a flow run (a resume then lets it go on rather than start another). */
  leases?: FlowLeases;
  /** The books' waiting flow runs (standbys): one paused or cancelled at once is ended. */
  standby?: StandbyFlowRuns;
}

/**
 * Carries out a client's command on a run: gathers the facts, asks the pure state machine, and applies
 * its decision. The status changes first and only from the status the decision was made on, so a
 * command racing the run driver is refused (409) rather than applied to a run that moved on.
 */
export class RunControl {
  constructor(private readonly deps: RunControlDeps) {}

  async command(runId: string, command: RunCommand): Promise<RunRecord> {
    if (command.type === "rollback") requireStage(this.deps.graph, command.toStage);
    if (!this.deps.locks) return this.commandUnlocked(runId, command);
    const locked = await this.deps.locks.withLock(runId, () => this.commandUnlocked(runId, command));
    if (!locked.ok) throw new Unavailable(`run ${runId} is busy (its stage is being started); try the ${command.type} again in a moment`);
    return locked.value;
  }

  private async commandUnlocked(runId: string, command: RunCommand): Promise<RunRecord> {
    // The run driver moves runs on concurrently (a run submitted a moment ago may be starting): when the
    // run changed between reading and writing, decide again on the fresh state rather than answer 409.
    for (let attempt = 1; ; attempt++) {
      const done = await this.tryCommand(runId, command);
      if (done) return done;
      if (attempt === 5) throw new Conflict(`run ${runId} kept changing while the ${command.type} was handled; read it and try again`);
    }
  }

  /** The command applied to the run as read now, or null when the run changed before it was written. */
  private async tryCommand(runId: string, command: RunCommand): Promise<RunRecord | null> {
    const { store } = this.deps;
    const run = await store.getRun(runId);
    if (!run) throw new NotFound(`no run with id ${runId}`);
    const facts = await this.gatherFacts(run);
    const decision = decide(facts, command);
    if (!decision.ok) throw new Conflict(decision.reason, { status: run.status, command: command.type });

    // The effects act on the stage run that was current when the command was decided (a rollback records another).
    const flowRunId = (await store.listStageRuns(run.id)).at(-1)?.flowRunId ?? null;
    const written = await this.write(run, decision);
    if (!written) return null;
    const updated = (await store.getRun(run.id))!;
    try {
      for (const effect of decision.effects) await this.apply(updated, effect, { flowRunId, recorded: written.recorded });
    } catch (err) {
      throw cutShort(err, run.id, command.type, decision.status);
    }
    this.deps.log.info({ runId, command: command.type, from: run.status, to: decision.status }, "run command applied");
    return (await store.getRun(run.id))!;
  }

  /**
   * The new status with its event in one transaction, only from the status the decision was made on; null
   * when the run moved on. A command that starts a stage (advance, resume, rollback) also records the
   * stage's next attempt there, and a rollback supersedes the outputs: cut short after this write (Redis or
   * Prefect down), the run driver creates that attempt's flow run, so the command is carried out, not lost.
   */
  private async write(run: RunRecord, decision: Extract<ReturnType<typeof decide>, { ok: true }>): Promise<{ recorded?: StageRunRecord } | null> {
    const { store, graph, launcher } = this.deps;
    const status = decision.status;
    const patch = { status, ...(status === "running" || status === "queued" ? { error: null, completedAt: null } : {}), ...(status === "cancelled" ? { completedAt: new Date().toISOString() } : {}) };
    const after = { ...run, status };
    const data = { by: "gateway", from: run.status };
    const event = decision.event && { type: decision.event, status, data };
    const start = decision.effects.find((e) => e.type === "startStage");
    if (!start) {
      const endStageRuns = decision.endStageRuns;
      const alongside = endStageRuns && ((tx: Store) => tx.endOpenStageRuns(run.id, endStageRuns));
      return (await updateRunWithEvent(store, graph, after, [run.status], patch, event, alongside)) ? {} : null;
    }
    const attempt = await launcher.nextAttempt(after, start.stageId);
    const startPatch = { ...patch, currentStageId: start.stageId };
    if (!decision.rollBackTo) {
      let recorded: StageRunRecord | undefined;
      const record = async (tx: Store) => void (recorded = await tx.insertStageRun(attempt));
      return (await updateRunWithEvent(store, graph, after, [run.status], startPatch, event, record)) ? { recorded } : null;
    }
    const from = run.request.stages.indexOf(decision.rollBackTo);
    const stages = graph.stages.map((s) => s.id).filter((id) => run.request.stages.indexOf(id) >= from);
    return store.atomically(run.id, async (tx) => {
      if (!(await tx.updateRun(run.id, [run.status], startPatch))) return null;
      const recorded = await tx.insertStageRun(attempt);
      const kept = (await tx.listOutputs(run.id, { history: false })).filter((o) => !stages.includes(o.stageId)).map((o) => o.stepId);
      const percent = percentComplete(plannedStepIds(graph, run.request.stages), kept);
      // Last: it appends the event (see EventOrderLock in sqlStore.ts).
      await tx.supersedeStages(run.id, stages, { runId: run.id, type: "run.rolled_back", status, percent, data: { ...data, toStage: decision.rollBackTo, stages } });
      return { recorded };
    });
  }

  private async apply(run: RunRecord, effect: RunEffect, at: { flowRunId: string | null; recorded?: StageRunRecord }): Promise<void> {
    const { prefect, holds, launcher } = this.deps;
    const id = at.flowRunId;
    switch (effect.type) {
      case "holdFlow":
        await holds.hold(run.id);
        return;
      case "releaseHold":
        await holds.release(run.id);
        return;
      case "suspendFlowRun": {
        const pauseKey = await holds.pauseKey(run.id);
        // Prefect accepts an outside suspend only from Running; before that the hold flag holds the flow.
        if (id && pauseKey) await prefect.suspend(id, pauseKey).catch((err) => this.deps.log.info({ runId: run.id, err: err.message }, "suspend deferred to the hold flag"));
        return;
      }
      case "resumeFlowRun":
        if (id) await resumeFlowRun(this.deps, id, run.id);
        return;
      case "cancelFlowRun":
        await this.deps.announceCancel(run.id);
        if (id) await prefect.cancel(id);
        return;
      case "dismissStandby":
        // Best effort: with Redis away the standby ends by itself once its wait is over.
        await this.deps.standby?.dismiss(run.id).catch((err) => this.deps.log.warn({ runId: run.id, err: (err as Error).message }, "could not dismiss the standby flow run; it ends when its wait is over"));
        return;
      case "startStage":
        if (!at.recorded) throw new Error(`stage ${effect.stageId} was not recorded with the command`);
        try {
          await launcher.startRecorded(run, at.recorded);
        } catch (err) {
          // The stage run is recorded; the run driver creates its flow run (idempotently) once Prefect answers.
          if (!(err instanceof Unavailable)) throw err;
          this.deps.log.warn({ runId: run.id, stageId: effect.stageId, err: err.message }, "flow run not created yet; the driver will retry");
        }
        return;
      default: {
        const never: never = effect;
        throw new Error(`unhandled effect ${JSON.stringify(never)}`);
      }
    }
  }

  /** Reads what decide() needs from the store and Prefect. */
  async gatherFacts(run: RunRecord): Promise<RunFacts> {
    const { store, prefect, graph } = this.deps;
    const stageRuns = await store.listStageRuns(run.id);
    const current = stageRuns.at(-1) ?? null;
    let flowRunActive = false;
    let flowRunCompleted = false;
    if (current?.flowRunId && current.status !== "completed") {
      // None in this Prefect: deleted in its UI, or the run was imported from another installation.
      const flowRun = await prefect.readFlowRunIfAny(current.flowRunId);
      flowRunActive = flowRun !== null && flowRun.stateType !== null && !terminalStateTypes.has(flowRun.stateType);
      flowRunCompleted = flowRun?.stateType === "COMPLETED";
    }
    const next = nextStage(graph, run.request.stages, current?.stageId ?? null);
    const guardOutputs = next?.guard ? await store.latestAcceptedOutputs(run.id, [next.guard.step]) : [];
    return {
      status: run.status,
      mode: run.mode,
      currentStage: current && { stageId: current.stageId, attempt: current.attempt, status: current.status },
      flowRunActive,
      flowRunCompleted,
      next: next ? { stageId: next.id, guard: evaluateGuard(next.guard, new Map(guardOutputs.map((o) => [o.stepId, o.content]))) } : null,
      chosenStages: run.request.stages,
      startedStages: [...new Set(stageRuns.map((s) => s.stageId))],
    };
  }
}

/**
 * A dependency went away after the run's status was written and before the command's effects were all
 * carried out: the answer says where the run stands rather than "nothing was changed". A cancel is
 * finished by the run driver (flowRunReaction.ts: a cancelling run's live flow run is cancelled again).
 */
function cutShort(err: unknown, runId: string, command: string, status: string): unknown {
  if (!(err instanceof Unavailable) && !isRedisUnreachable(err)) return err;
  const cause = err instanceof Unavailable ? err.message : "Redis is not reachable";
  const next = status === "cancelling" ? "the gateway finishes the cancel once it can" : "read the run to see where it stands";
  return new Unavailable(`run ${runId} is ${status} now, but its ${command} was cut short (${cause}); ${next}`, { status });
}
