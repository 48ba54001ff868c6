import type { Redis } from "ioredis";

/** The Prefect tag of a flow run still waiting as a standby (a stage that takes it replaces its tags). */
export const STANDBY_TAG = "standby";

/** A waiting standby's Prefect tags: standby, and the book it waits for. */
export const standbyTags = (runId: string) => [STANDBY_TAG, `standby-for:${runId}`];

/** True for the tags that mark a flow run as a waiting standby (dropped when a stage takes it). */
export const isStandbyTag = (tag: string) => tag === STANDBY_TAG || tag.startsWith("standby-for:");

/** What a standby flow run is told to run (the run-stage flow's own parameters). */
export interface StageAssignment {
  stageId: string;
  attempt: number;
  steps: unknown[];
  loop?: unknown;
}

/**
 * Standby flow runs in Redis. While a stage of a book runs, the gateway starts the book's next flow run
 * ahead of time, as a standby that waits (prefect-flows/run_stage.py `wait_for_stage`); when the next
 * stage is due, the gateway hands it the stage instead of creating a flow run and waiting for its start.
 *
 * The hand-over and the standby's own expiry are one SET NX on `standby:<flowRunId>`: whichever comes
 * first wins, so a stage is never given to a flow run that has already given up.
 */
export class StandbyFlowRuns {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** Records the book's standby (one per book; it is taken by the next stage or dismissed). */
  async remember(runId: string, flowRunId: string): Promise<void> {
    await this.redis.set(this.ofRun(runId), flowRunId, "EX", 86_400);
  }

  /** Takes the book's standby, if it has one: nobody else can take it after this. */
  async take(runId: string): Promise<string | null> {
    return this.redis.getdel(this.ofRun(runId));
  }

  /** Gives the standby its stage; false when it expired first (then the stage needs a new flow run). */
  async assign(flowRunId: string, assignment: StageAssignment): Promise<boolean> {
    return this.offer(flowRunId, assignment);
  }

  /** The book will not need its standby (finished, failed, cancelled): it ends at once, unused. */
  async dismiss(runId: string): Promise<void> {
    const flowRunId = await this.take(runId);
    if (flowRunId) await this.dismissFlowRun(flowRunId);
  }

  async dismissFlowRun(flowRunId: string): Promise<void> {
    await this.offer(flowRunId, { dismissed: true });
  }

  private async offer(flowRunId: string, value: object): Promise<boolean> {
    const key = `${this.prefix}:standby:${flowRunId}`;
    const won = (await this.redis.set(key, JSON.stringify(value), "EX", 86_400, "NX")) === "OK";
    if (won) await this.redis.multi().rpush(`${key}:bell`, "1").expire(`${key}:bell`, 600).exec();
    return won;
  }

  private ofRun(runId: string): string {
    return `${this.prefix}:standby-of:${runId}`;
  }
}
