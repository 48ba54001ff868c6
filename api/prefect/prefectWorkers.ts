import type { PrefectClient } from "./client.js";
import { unwrap } from "./unwrap.js";

/** Prefect's own rule (its foreman service): a worker is offline after this many heartbeat intervals without one. */
const MISSED_HEARTBEATS = 3;

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

  /** Names of the workers whose last heartbeat is recent enough. */
  async live(): Promise<string[]> {
    const pool = await this.workPoolName();
    const workers = await unwrap(`read workers of pool ${pool}`, () => this.client.POST("/work_pools/{work_pool_name}/workers/filter", { params: { path: { work_pool_name: pool } }, body: { limit: 200, offset: 0 } }));
    return workers
      .filter((w) => w.last_heartbeat_time && this.now() - Date.parse(w.last_heartbeat_time) <= MISSED_HEARTBEATS * 1000 * (w.heartbeat_interval_seconds ?? 30))
      .map((w) => w.name);
  }

  /** Throws, naming the pool, when no worker polls it. */
  async check(): Promise<void> {
    if ((await this.live()).length === 0) throw new Error(`no Prefect worker has polled work pool ${await this.workPoolName()} lately; flow runs wait until one does`);
  }
}
