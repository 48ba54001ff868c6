import type { PoolOccupancy } from "../runs/waitingFlowRunRule.js";
import type { PrefectClient, PrefectSchemas } from "./client.js";
import { unwrap } from "./prefectAnswers.js";

/** Prefect's own rule (its foreman service): a worker is offline after this many heartbeat intervals without one. */
const MISSED_HEARTBEATS = 3;
/** How long a count of the flow runs under a limit is used (each stage start asks; each count is a request). */
const OCCUPANCY_READ_MS = 2_000;

/** What an operator set on the work pool in Prefect that holds flow runs back. */
export interface WorkPoolHold {
  paused: boolean;
  concurrencyLimit: number | null;
  /** The deployment's work queue's own pause and limit. */
  queuePaused: boolean;
  queueLimit: number | null;
}

/**
 * The Prefect workers polling the work pool of the run-stage deployment, from their heartbeats: without
 * one, a book's flow runs stay Scheduled and nothing else says why.
 */
export class PrefectWorkers {
  constructor(
    private readonly client: PrefectClient,
    private readonly workPoolName: () => Promise<string>,
    private readonly workQueueName: () => Promise<string | null> = async () => null,
    /** How long a read of the pool's settings is used: an operator's change is seen within this (QUIRE_POOL_READ_SECONDS). */
    private readonly poolReadMs = 10_000,
    private readonly now = () => Date.now(),
  ) {}

  private poolRead?: { at: number; hold: Promise<WorkPoolHold> };
  private occupancyRead?: { at: number; value: Promise<PoolOccupancy> };

  /** The pool's pause and concurrency limits (its own, its work queue's), read at most every `poolReadMs`. */
  pool(): Promise<WorkPoolHold> {
    if (this.poolRead && this.now() - this.poolRead.at < this.poolReadMs) return this.poolRead.hold;
    const hold = (async () => {
      const name = await this.workPoolName();
      const queue = await this.workQueueName();
      const pool = await unwrap(`read work pool ${name}`, () => this.client.GET("/work_pools/{name}", { params: { path: { name } } }));
      const workQueue = queue ? await unwrap(`read work queue ${queue}`, () => this.client.GET("/work_pools/{work_pool_name}/queues/{name}", { params: { path: { work_pool_name: name, name: queue } } })) : null;
      return { paused: Boolean(pool.is_paused), concurrencyLimit: pool.concurrency_limit ?? null, queuePaused: Boolean(workQueue?.is_paused), queueLimit: workQueue?.concurrency_limit ?? null };
    })();
    this.poolRead = { at: this.now(), hold };
    hold.catch(() => (this.poolRead = undefined));
    return hold;
  }

  /**
   * How full the pool is against the tighter of its limit and its work queue's (see
   * runs/waitingFlowRunRule.ts), read at most every 2 s. Flow runs are counted only when there is a limit.
   */
  occupancy(): Promise<PoolOccupancy> {
    if (this.occupancyRead && this.now() - this.occupancyRead.at < OCCUPANCY_READ_MS) return this.occupancyRead.value;
    const value = this.readOccupancy();
    this.occupancyRead = { at: this.now(), value };
    value.catch(() => (this.occupancyRead = undefined));
    return value;
  }

  private async readOccupancy(): Promise<PoolOccupancy> {
    const hold = await this.pool();
    const { concurrencyLimit, queueLimit } = hold;
    const paused = hold.paused || hold.queuePaused;
    const pool = await this.workPoolName();
    const queue = await this.workQueueName();
    const limits: { limit: number; where: Omit<PrefectSchemas["Body_count_flow_runs_flow_runs_count_post"], "flow_runs"> }[] = [
      ...(concurrencyLimit !== null ? [{ limit: concurrencyLimit, where: { work_pools: { name: { any_: [pool] } } } }] : []),
      ...(queueLimit !== null && queue ? [{ limit: queueLimit, where: { work_pools: { name: { any_: [pool] } }, work_pool_queues: { name: { any_: [queue] } } } }] : []),
    ];
    let tightest: PoolOccupancy = { paused, limit: null, busy: 0, queued: 0 };
    for (const { limit, where } of limits) {
      const busy = await this.countFlowRuns({ ...where, flow_runs: { state: { type: { any_: ["RUNNING", "PENDING"] } } } });
      if (tightest.limit !== null && limit - busy >= tightest.limit - tightest.busy) continue;
      const due = { state: { type: { any_: ["SCHEDULED" as const] } }, next_scheduled_start_time: { before_: new Date(this.now()).toISOString() } };
      tightest = { paused, limit, busy, queued: await this.countFlowRuns({ ...where, flow_runs: due }) };
    }
    return tightest;
  }

  private async countFlowRuns(body: PrefectSchemas["Body_count_flow_runs_flow_runs_count_post"]): Promise<number> {
    return unwrap("count flow runs", () => this.client.POST("/flow_runs/count", { body }));
  }

  /** Names of the workers whose last heartbeat is recent enough. */
  async live(): Promise<string[]> {
    const pool = await this.workPoolName();
    const workers = await unwrap(`read workers of pool ${pool}`, () => this.client.POST("/work_pools/{work_pool_name}/workers/filter", { params: { path: { work_pool_name: pool } }, body: { limit: 200, offset: 0 } }));
    return workers
      .filter((w) => w.last_heartbeat_time && this.now() - Date.parse(w.last_heartbeat_time) <= MISSED_HEARTBEATS * 1000 * (w.heartbeat_interval_seconds ?? 30))
      .map((w) => w.name);
  }

  /** Throws, naming the pool, when no worker polls it, or when it is paused in Prefect. */
  async check(): Promise<void> {
    if ((await this.live()).length === 0) throw new Error(`no Prefect worker has polled work pool ${await this.workPoolName()} lately; flow runs wait until one does`);
    const { paused, queuePaused } = await this.pool();
    if (paused) throw new Error(`work pool ${await this.workPoolName()} is paused in Prefect; flow runs wait until it is resumed`);
    if (queuePaused) throw new Error(`work queue ${await this.workQueueName()} of pool ${await this.workPoolName()} is paused in Prefect; flow runs wait until it is resumed`);
  }
}
