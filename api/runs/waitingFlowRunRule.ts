/**
 * When flow runs may wait ahead for stages (standbys, spares) in a work pool an operator limited in
 * Prefect. A waiting flow run holds a slot of the limit: with the pool full of idle ones, a stage's own
 * flow run queued behind them until they gave up (10 minutes). Without a limit, they always may.
 */

/** How full the pool is against the tighter of its concurrency limit and its work queue's. */
export interface PoolOccupancy {
  paused: boolean;
  /** null: neither the pool nor the deployment's work queue has a limit. */
  limit: number | null;
  /** Pending and Running flow runs that count against that limit (waiting ones among them). */
  busy: number;
  /** Scheduled flow runs already due: waiting for a slot. */
  queued: number;
}

/** How many more waiting flow runs may start: as many as leave at least half the limit's slots free for stages. */
export function waitingRoom({ paused, limit, busy, queued }: PoolOccupancy): number {
  if (paused) return 0;
  return limit === null ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit / 2) - busy - queued);
}

/** Idle waiting flow runs make room when a flow run waits for a slot they hold (or wait for nothing: paused). */
export function mustEndIdleWaiting({ paused, limit, busy, queued }: PoolOccupancy): boolean {
  if (paused) return true;
  return limit !== null && queued > 0 && busy >= limit;
}
