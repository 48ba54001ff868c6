import type { Redis } from "ioredis";
import { redisName } from "../config/redisNames.js";

/** The Prefect tag of a flow run still waiting as a standby (a stage that takes it replaces its tags). */
export const STANDBY_TAG = "standby";

/** A waiting standby's Prefect tags: standby, and the book it waits for. */
export const standbyTags = (runId: string) => [STANDBY_TAG, `standby-for:${runId}`];

/** True for the tags that mark a flow run as a waiting standby (dropped when a stage takes it). */
export const isStandbyTag = (tag: string) => tag === STANDBY_TAG || tag.startsWith("standby-for:");

/** What a standby flow run is told to run (the run-stage flow's own parameters). */
export interface StageAssignment {
  runId: string;
  stageId: string;
  attempt: number;
  steps: unknown[];
  loop?: unknown;
}

/**
 * The waiting flow run's key is set only if nobody set it first (the gateway's offer, or the flow's own
 * expiry) and, for a stage, only if the stage attempt was not handed to a flow run already; then its bell
 * rings (the flow waits on it with BLPOP) and the stage attempt records its flow run. All or nothing: 1
 * when the offer won.
 */
const OFFER = `
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400, 'NX') then return 0 end
redis.call('RPUSH', KEYS[2], '1')
redis.call('EXPIRE', KEYS[2], 600)
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[2], 'EX', 86400) end
return 1`;

/**
 * Standby flow runs in Redis. While a stage of a book runs, the gateway starts the book's next flow run
 * ahead of time, as a standby that waits (prefect-flows/run_stage.py `wait_for_stage`); when the next
 * stage is due, the gateway hands it the stage instead of creating a flow run and waiting for its start.
 * Spares wait the same way for no book in particular: a book's first stage, or a stage whose own standby
 * has not started yet, takes one.
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

  /** True when the book has a standby waiting for its next stage. */
  async has(runId: string): Promise<boolean> {
    return (await this.redis.exists(this.ofRun(runId))) === 1;
  }

  /** Takes the book's standby, if it has one: nobody else can take it after this. */
  async take(runId: string): Promise<string | null> {
    return this.redis.getdel(this.ofRun(runId));
  }

  /** Adds a spare (a waiting flow run for any book) at the end of the line. */
  async addSpare(flowRunId: string): Promise<void> {
    await this.redis.rpush(this.spares(), flowRunId);
  }

  /** Takes this spare out of the line; false when another hand-over took it first. */
  async takeSpareById(flowRunId: string): Promise<boolean> {
    return (await this.redis.lrem(this.spares(), 1, flowRunId)) === 1;
  }

  async spareIds(): Promise<string[]> {
    return this.redis.lrange(this.spares(), 0, -1);
  }

  async dropSpare(flowRunId: string): Promise<void> {
    await this.redis.lrem(this.spares(), 0, flowRunId);
  }

  /** True once a waiting flow run was given a stage, dismissed, or gave up waiting. */
  async claimed(flowRunId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(flowRunId))) === 1;
  }

  /**
   * Gives the waiting flow run its stage, and records which flow run the stage attempt went to, in one
   * step; false when it gave up waiting first (then the stage needs another flow run), or when the stage
   * attempt already went to a flow run (see handedTo).
   */
  async assign(flowRunId: string, assignment: StageAssignment): Promise<boolean> {
    const handed = this.handedKey(assignment.runId, assignment.stageId, assignment.attempt);
    return (await this.redis.eval(OFFER, 3, this.key(flowRunId), this.bell(flowRunId), handed, JSON.stringify(assignment), flowRunId)) === 1;
  }

  /** The flow run a stage attempt was handed to, if it was: a repeat after a crash finds it here. */
  async handedTo(runId: string, stageId: string, attempt: number): Promise<string | null> {
    return this.redis.get(this.handedKey(runId, stageId, attempt));
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
    return (await this.redis.eval(OFFER, 2, this.key(flowRunId), this.bell(flowRunId), JSON.stringify(value))) === 1;
  }

  private handedKey(runId: string, stageId: string, attempt: number): string {
    return `${this.prefix}:handed:${runId}:${stageId}:${attempt}`;
  }

  private key(flowRunId: string): string {
    return redisName("standby", { prefix: this.prefix, flowRunId });
  }

  /** Pushed to when the key is set, so a waiting flow run wakes at once (prefect-flows/run_stage.py). */
  private bell(flowRunId: string): string {
    return redisName("standbyBell", { prefix: this.prefix, flowRunId });
  }

  private spares(): string {
    return `${this.prefix}:spare-flow-runs`;
  }

  private ofRun(runId: string): string {
    return `${this.prefix}:standby-of:${runId}`;
  }
}
