import { describe, expect, it } from "vitest";
import { mayStartWaiting, mustEndIdleWaiting, type PoolOccupancy } from "../../api/runs/waitingFlowRunRule.js";

const pool = (o: Partial<PoolOccupancy>): PoolOccupancy => ({ paused: false, limit: null, busy: 0, queued: 0, ...o });

describe("waiting flow runs in a work pool with a concurrency limit", () => {
  it("may always start without a limit, never while the pool is paused", () => {
    expect(mayStartWaiting(pool({ busy: 500 }))).toBe(true);
    expect(mayStartWaiting(pool({ paused: true }))).toBe(false);
    expect(mayStartWaiting(pool({ paused: true, limit: 100 }))).toBe(false);
  });

  it("start only while, with the new one, half the slots stay free", () => {
    expect(mayStartWaiting(pool({ limit: 20, busy: 9 }))).toBe(true);
    expect(mayStartWaiting(pool({ limit: 20, busy: 10 }))).toBe(false);
    expect(mayStartWaiting(pool({ limit: 20, busy: 5, queued: 5 }))).toBe(false); // queued ones take slots next
    expect(mayStartWaiting(pool({ limit: 2 }))).toBe(true);
    expect(mayStartWaiting(pool({ limit: 2, busy: 1 }))).toBe(false);
    expect(mayStartWaiting(pool({ limit: 1 }))).toBe(false); // its one slot is for stages
  });

  it("end the idle ones when a flow run waits for a slot of a full pool, or the pool is paused", () => {
    expect(mustEndIdleWaiting(pool({ limit: 2, busy: 2, queued: 1 }))).toBe(true);
    expect(mustEndIdleWaiting(pool({ limit: 2, busy: 2 }))).toBe(false); // full, but nothing waits
    expect(mustEndIdleWaiting(pool({ limit: 3, busy: 2, queued: 1 }))).toBe(false); // it gets the free slot
    expect(mustEndIdleWaiting(pool({ busy: 40, queued: 9 }))).toBe(false); // no limit: queued ones start anyway
    expect(mustEndIdleWaiting(pool({ paused: true }))).toBe(true);
  });
});
