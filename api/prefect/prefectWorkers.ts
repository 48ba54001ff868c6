import type { PrefectClient } from "./client.js";
import { unwrap } from "./unwrap.js";

/** Prefect's own rule (its foreman service): a worker is offline after this many heartbeat intervals without one. */
const MISSED_HEARTBEATS = 3;
/** How long a read of the pool's settings is used: an operator's change is seen within this. */
const POOL_READ_MS = 10_000;

/** What an operator set on the work pool in Prefect that holds flow runs back. */
export interface WorkPoolHold {
  paused: boolean;
  concurrencyLimit: number | null;
}

/**
 * The Prefect workers polling the work pool of the run-stage deployment, from their heartbeats: without
 * one, a book's flow runs stay Scheduled and nothing else says why.
 */
export class PrefectWorkers {
  constructor(
    private readonly client: PrefectClient,
    private readonly workPoolName: () => Promise<string>,
    private readonly now = () => Date.now(),
  ) {}

  private poolRead?: { at: number; hold: Promise<WorkPoolHold> };

  /** The pool's pause and concurrency limit, read at most every 10 s. */
  pool(): Promise<WorkPoolHold> {
    if (this.poolRead && this.now() - this.poolRead.at < POOL_READ_MS) return this.poolRead.hold;
    const hold = (async () => {
      const name = await this.workPoolName();
      const pool = await unwrap(`read work pool ${name}`, () => this.client.GET("/work_pools/{name}", { params: { path: { name } } }));
      return { paused: Boolean(pool.is_paused), concurrencyLimit: pool.concurrency_limit ?? null };
    })();
    this.poolRead = { at: this.now(), hold };
    hold.catch(() => (this.poolRead = undefined));
    return hold;
  }

  /**
   * Whether flow runs may wait ahead for stages (standbys, spares). Not under a concurrency limit: a
   * waiting flow run holds one of its slots, and a stage's own flow run would queue behind it until it
   * gave up (10 minutes). Not while the pool is paused: they would only wait for nothing.
   */
  async allowsWaitingFlowRuns(): Promise<boolean> {
    const { paused, concurrencyLimit } = await this.pool();
    return !paused && concurrencyLimit === null;
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
    if ((await this.pool()).paused) throw new Error(`work pool ${await this.workPoolName()} is paused in Prefect; flow runs wait until it is resumed`);
  }
}
