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

/** A new waiting flow run only while, with it, at least half the limit's slots stay free for stages. */
export function mayStartWaiting({ paused, limit, busy, queued }: PoolOccupancy): boolean {
  if (paused) return false;
  return limit === null || busy + queued + 1 <= Math.floor(limit / 2);
}

/** Idle waiting flow runs make room when a flow run waits for a slot they hold (or wait for nothing: paused). */
export function mustEndIdleWaiting({ paused, limit, busy, queued }: PoolOccupancy): boolean {
  if (paused) return true;
  return limit !== null && queued > 0 && busy >= limit;
}
